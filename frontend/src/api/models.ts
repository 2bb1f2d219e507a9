/** Model versions produced by runs (and TF-IDF baselines): list, detail, rename, default, download, delete, and the
 * faster ONNX Runtime variants (build one, choose which one serves). */
import { http } from './http'
import type { EvalMetrics, TaskKind } from './types'

/** How a version is run: the trained PyTorch model, its ONNX Runtime exports, a TF-IDF baseline, or the model blended
 * with its TF-IDF baseline (ensemble). */
export type VariantName = 'pytorch' | 'onnx' | 'onnx_int8' | 'tfidf' | 'crf' | 'ensemble'
export type ExportVariant = 'onnx' | 'onnx_int8'

/** A built variant scored against the PyTorch model on the version's validation texts. */
export interface VariantEvaluation {
  samples: number
  /** Share of texts where both give the same label, 0..1. */
  agreement: number | null
  max_probability_diff: number | null
  /** Present when the validation texts have labels. */
  accuracy?: number
  accuracy_reference?: number
  accuracy_delta?: number
}

export interface VariantInfo {
  status: 'ready' | 'building' | 'failed' | 'absent' | string
  size_bytes: number | null
  /** Accuracy change vs the PyTorch model (fraction; -0.01 is one point worse). */
  accuracy_delta: number | null
  evaluation: VariantEvaluation | null
  error: string | null
}

export interface ModelSummary {
  id: number
  name: string
  task: TaskKind
  kind: 'transformer' | 'tfidf' | string
  base_model: string
  status: string
  labels: string[]
  /** Headline numbers: accuracy, macro_f1, weighted_f1, duration... */
  key_metrics: Record<string, number>
  /** File prediction (POST /api/predict/batch) takes this version: the server's task spec says so. */
  file_prediction: boolean
  is_default: boolean
  size_bytes: number
  created_at: string
  run_id: number | null
  dataset_id: number | null
  serving_variant: VariantName
  variants: Partial<Record<VariantName, VariantInfo>>
  loaded_variants: string[]
}

/** What training found when it averaged the model's probabilities with its TF-IDF baseline's on validation. */
export interface EnsembleRecord {
  /** The baseline's share of the average (0 = the model alone), chosen on the validation split. */
  weight: number
  /** The metric the weight was chosen on (accuracy; multi-label: micro_f1). */
  primary_metric: string
  /** The blend's validation metrics at that weight. */
  metrics: Record<string, number>
  /** The model alone on the same metric. */
  model_value: number
  /** The primary metric with the weight chosen out of fold: each fifth of validation blended at the weight the
   * other four fifths chose (null: validation too small; absent: versions trained before). */
  cross_fitted_value?: number | null
  /** The weight each fold's complement chose. */
  fold_weights?: number[] | null
  beats_model: boolean
  /** Served only when it beats the model on validation (cross-fitted). */
  offered: boolean
  /** The primary metric at every weight tried: `{ weight, [primary_metric]: value }`. */
  by_weight: Record<string, number>[]
}

export interface ModelMetrics extends EvalMetrics {
  baseline?: ({ accuracy: number; macro_f1: number; weighted_f1: number } & Record<string, number>) | null
  ensemble?: EnsembleRecord | null
  max_length?: number
  truncation_share?: number
  /** Single-label tasks: the label answered most often, its share of the answers and of the truth; the accuracy of
   * always answering the most common label; `one_answer` when nearly every text got the same label (not learned yet). */
  top_answer?: { label: string; share: number; true_share: number }
  majority_accuracy?: number
  one_answer?: boolean
}

export interface Thresholds {
  mode: 'per_label' | 'global'
  global: number
  per_label: Record<string, number>
}

export interface ModelDetail extends ModelSummary {
  /** Task settings editable after training (multi-label: thresholds). */
  /** `variant`: whose settings these are, the variant that answers by default (the ensemble keeps its own thresholds). */
  task_settings: { thresholds?: Thresholds | null; variant?: string }
  metrics: ModelMetrics
  config: Record<string, unknown>
  lineage: Record<string, unknown> & { duration_s?: number; device?: string; dataset_id?: number }
}

export async function listModels(): Promise<ModelSummary[]> {
  const { data } = await http.get<ModelSummary[]>('/api/models')
  return data
}

export async function getModel(id: number): Promise<ModelDetail> {
  const { data } = await http.get<ModelDetail>(`/api/models/${id}`)
  return data
}

async function patchModel(id: number, body: { name?: string; serving_variant?: VariantName }): Promise<ModelDetail> {
  const { data } = await http.patch<ModelDetail>(`/api/models/${id}`, body)
  return data
}

export function renameModel(id: number, name: string): Promise<ModelDetail> {
  return patchModel(id, { name })
}

/** Choose the variant that answers this version's predictions by default (refused when it is not built). */
export function setServingVariant(id: number, variant: VariantName): Promise<ModelDetail> {
  return patchModel(id, { serving_variant: variant })
}

/** Start building an ONNX variant in the background; poll `getModel` until its status leaves "building". */
export async function exportVariant(id: number, variant: ExportVariant): Promise<ModelDetail> {
  const { data } = await http.post<ModelDetail>(`/api/models/${id}/export`, { variant })
  return data
}

export async function setDefaultModel(id: number): Promise<ModelDetail> {
  const { data } = await http.post<ModelDetail>(`/api/models/${id}/default`)
  return data
}

export async function deleteModel(id: number): Promise<void> {
  await http.delete(`/api/models/${id}`)
}

/** The version folder as a zip; `merged`: a LoRA generation version as a standalone model (adapter merged in). */
export function modelDownloadUrl(id: number, merged = false): string {
  return `/api/models/${id}/download${merged ? '?merged=true' : ''}`
}

export async function updateThresholds(id: number, thresholds: Thresholds): Promise<ModelDetail> {
  const { data } = await http.patch<ModelDetail>(`/api/models/${id}/settings`, { thresholds })
  return data
}
