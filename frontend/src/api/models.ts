/** Model versions produced by runs (plus TF-IDF baselines): list, detail, rename, default, download, delete. */
import { http } from './http'
import type { EvalMetrics } from './types'

export interface ModelVersion {
  id: number
  name: string
  run_id: number | null
  dataset_id: number | null
  kind: 'transformer' | 'tfidf' | string
  base_model: string
  status: string
  labels: string[]
  metrics: EvalMetrics & { baseline?: EvalMetrics | null; duration_s?: number }
  config?: Record<string, unknown>
  lineage?: Record<string, unknown>
  exports?: Record<string, unknown>
  is_default: boolean
  size_bytes?: number
  created_at: string
  accuracy?: number | null
  macro_f1?: number | null
  duration_s?: number | null
}

export async function listModels(): Promise<ModelVersion[]> {
  const { data } = await http.get<ModelVersion[] | { items: ModelVersion[] }>('/api/models')
  return Array.isArray(data) ? data : data.items
}

export async function getModel(id: number): Promise<ModelVersion> {
  const { data } = await http.get<ModelVersion>(`/api/models/${id}`)
  return data
}

export async function renameModel(id: number, name: string): Promise<ModelVersion> {
  const { data } = await http.patch<ModelVersion>(`/api/models/${id}`, { name })
  return data
}

export async function setDefaultModel(id: number): Promise<ModelVersion> {
  const { data } = await http.post<ModelVersion>(`/api/models/${id}/default`)
  return data
}

export async function deleteModel(id: number): Promise<void> {
  await http.delete(`/api/models/${id}`)
}

export function modelDownloadUrl(id: number): string {
  return `/api/models/${id}/download`
}
