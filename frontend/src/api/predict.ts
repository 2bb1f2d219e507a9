/** Prediction: the spec's `POST /predict` for texts, and batch file jobs under /api/predict/batch. */
import { http } from './http'
import type { VariantName } from './models'
import type { TaskKind } from './types'

export interface ClassProbability {
  label: string
  probability: number
  /** Multi-label: the label's decision threshold and whether the probability reaches it. */
  threshold?: number | null
  passed?: boolean | null
}

/** NER: one entity, character offsets into the tagged text (end exclusive). */
export interface Entity {
  start: number
  end: number
  label: string
  text: string
  score: number
}

export interface Prediction {
  label: string
  score: number
  /** Every class, most probable first. */
  probabilities: ClassProbability[]
  truncated: boolean
  /** Multi-label: every label that passes its threshold. */
  labels?: string[] | null
  /** NER: the text as tagged and the entities found in it. */
  text?: string | null
  entities?: Entity[] | null
  /** Encoder versions: windows the text was read in (more than 1: a long text read in overlapping parts). */
  windows?: number | null
}

export interface PredictResponse {
  task: TaskKind
  model_id: number
  model_name: string
  /** The variant that answered. */
  variant: VariantName
  latency_ms: number
  load_ms: number | null
  /** Set when the ensemble answered: the transformer variant it blended and the TF-IDF baseline's weight. */
  ensemble?: { model_variant: VariantName; baseline: VariantName; baseline_weight: number } | null
  predictions: Prediction[]
}

/** What one prediction sends: a text, or a pair for sentence-pair versions. */
export type PredictInput = { text: string } | { text_a: string; text_b: string }

/** Without a model: the default version; without a variant: the one chosen to serve that version. */
export async function predictText(text: string, modelId?: number, variant?: VariantName): Promise<PredictResponse> {
  return predictInput({ text }, modelId, variant)
}

/** The version and variant fields of a request: left out to let the server choose (the default version, its variant). */
function modelChoice(modelId?: number, variant?: VariantName): Record<string, unknown> {
  return { ...(modelId ? { model_id: modelId } : {}), ...(variant ? { variant } : {}) }
}

export async function predictInput(input: PredictInput, modelId?: number, variant?: VariantName): Promise<PredictResponse> {
  const { data } = await http.post<PredictResponse>('/predict', { ...input, ...modelChoice(modelId, variant) })
  return data
}

export interface BatchJob {
  id: number
  model_id: number | null
  status: 'queued' | 'running' | 'succeeded' | 'failed' | string
  filename: string
  total: number
  done: number
  /** done / total, 0..1 */
  progress: number
  text_column: string | null
  /** Sentence-pair versions: the second text's column. */
  text_b_column?: string | null
  label_column: string | null
  variant: string | null
  evaluation: { accuracy?: number; macro_f1?: number; [key: string]: unknown } | null
  error_message: string
  created_at: string
  finished_at: string | null
}

export async function startBatchPrediction(
  file: File,
  modelId: number | undefined,
  variant: VariantName | undefined,
  onProgress?: (percent: number) => void,
): Promise<BatchJob> {
  const form = new FormData()
  form.append('file', file)
  if (modelId) form.append('model_id', String(modelId))
  if (variant) form.append('variant', variant)
  const { data } = await http.post<BatchJob>('/api/predict/batch', form, {
    timeout: 0,
    onUploadProgress: (e) => {
      if (onProgress && e.total) onProgress(Math.round((e.loaded / e.total) * 100))
    },
  })
  return data
}

export async function getBatchJob(id: number): Promise<BatchJob> {
  const { data } = await http.get<BatchJob>(`/api/predict/batch/${id}`)
  return data
}

export function batchDownloadUrl(id: number): string {
  return `/api/predict/batch/${id}/download`
}

export interface LoadState {
  model_id: number
  variant: VariantName
  /** True: in the server's memory already; false: loading in the background. */
  loaded: boolean
}

/** Ask the server to load a version (default: the default version) in the background, so its first answer is fast. */
export async function loadModel(modelId?: number, variant?: VariantName): Promise<LoadState> {
  const { data } = await http.post<LoadState>('/api/predict/load', modelChoice(modelId, variant))
  return data
}
