/** Prediction: the spec's `POST /predict` for texts, and batch file jobs under /api/predict/batch. */
import { http } from './http'

export interface ClassProbability {
  label: string
  score: number
}

export interface Prediction {
  label: string
  score: number
  probabilities: ClassProbability[]
  truncated?: boolean
}

export interface PredictResponse {
  model_id: number
  model_name?: string
  latency_ms: number
  predictions?: Prediction[]
  label?: string
  score?: number
  probabilities?: ClassProbability[]
  [key: string]: unknown
}

export async function predictText(text: string, modelId?: number): Promise<PredictResponse> {
  const body: Record<string, unknown> = { text }
  if (modelId) body.model_id = modelId
  const { data } = await http.post<PredictResponse>('/predict', body)
  return data
}

/** The first (or only) prediction of a response, whichever shape the server used. */
export function firstPrediction(res: PredictResponse): Prediction | null {
  if (res.predictions?.length) return res.predictions[0]
  if (res.label !== undefined && res.probabilities) {
    return { label: res.label, score: res.score ?? 0, probabilities: res.probabilities }
  }
  return null
}

export interface BatchJob {
  id: number
  model_id: number | null
  status: 'queued' | 'running' | 'succeeded' | 'failed' | string
  filename: string
  total: number
  done: number
  metrics: Record<string, unknown>
  error_message?: string
  created_at?: string
  finished_at?: string | null
}

export async function startBatchPrediction(
  file: File,
  modelId: number | undefined,
  onProgress?: (percent: number) => void,
  textColumn?: string,
): Promise<BatchJob> {
  const form = new FormData()
  form.append('file', file)
  if (modelId) form.append('model_id', String(modelId))
  if (textColumn) form.append('text_column', textColumn)
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
