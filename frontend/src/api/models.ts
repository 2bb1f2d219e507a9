/** Model versions produced by runs (and TF-IDF baselines): list, detail, rename, default, download, delete. */
import { http } from './http'
import type { EvalMetrics } from './types'

export interface VariantInfo {
  status: 'ready' | 'building' | 'failed' | 'absent' | string
  size_bytes: number | null
  accuracy_delta: number | null
  error: string | null
}

export interface ModelSummary {
  id: number
  name: string
  kind: 'transformer' | 'tfidf' | string
  base_model: string
  status: string
  labels: string[]
  /** Headline numbers: accuracy, macro_f1, weighted_f1, duration... */
  key_metrics: Record<string, number>
  is_default: boolean
  size_bytes: number
  created_at: string
  run_id: number | null
  dataset_id: number | null
  serving_variant: string
  variants: Record<string, VariantInfo>
  loaded_variants: string[]
}

export interface ModelMetrics extends EvalMetrics {
  baseline?: { accuracy: number; macro_f1: number; weighted_f1: number } | null
  max_length?: number
  truncation_share?: number
}

export interface ModelDetail extends ModelSummary {
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

export async function renameModel(id: number, name: string): Promise<ModelDetail> {
  const { data } = await http.patch<ModelDetail>(`/api/models/${id}`, { name })
  return data
}

export async function setDefaultModel(id: number): Promise<ModelDetail> {
  const { data } = await http.post<ModelDetail>(`/api/models/${id}/default`)
  return data
}

export async function deleteModel(id: number): Promise<void> {
  await http.delete(`/api/models/${id}`)
}

export function modelDownloadUrl(id: number): string {
  return `/api/models/${id}/download`
}
