/** Training runs: start/stop (the spec's /train paths), and the run resource under /api/runs. */
import { http } from './http'

export type RunStatus =
  | 'queued'
  | 'running'
  | 'stopping'
  | 'succeeded'
  | 'stopped'
  | 'failed'
  | 'cancelled'
  | 'interrupted'

export const ACTIVE_STATUSES: RunStatus[] = ['queued', 'running', 'stopping']
export const RESUMABLE_STATUSES: RunStatus[] = ['stopped', 'interrupted']

export interface RunProgress {
  step?: number
  total_steps?: number
  epoch?: number
  total_epochs?: number
  loss?: number
  learning_rate?: number
  samples_per_s?: number | null
  elapsed_s?: number
  eta_s?: number | null
  percent?: number
  phase?: string
  [key: string]: unknown
}

export interface Run {
  id: number
  name: string
  dataset_id: number | null
  base_model: string
  config: Record<string, unknown>
  status: RunStatus
  queue_position?: number | null
  device?: string
  progress: RunProgress
  error_message?: string
  resume_count?: number
  model_id?: number | null
  created_at: string
  started_at?: string | null
  finished_at?: string | null
}

export interface MetricPoint {
  kind: 'train' | 'eval' | 'system' | string
  step: number
  epoch: number
  values: Record<string, number | null | undefined | unknown>
  created_at?: string
}

export interface TrainRequest {
  dataset_id: number
  base_model: string
  config: Record<string, unknown>
}

export interface TrainStatus {
  current: Run | null
  running?: Run[]
  queue: Run[]
}

export async function startTraining(body: TrainRequest): Promise<Run> {
  const { data } = await http.post<Run>('/train', body)
  return data
}

export async function getTrainStatus(): Promise<TrainStatus> {
  const { data } = await http.get<TrainStatus>('/train/status')
  return data
}

export async function stopRun(id: number): Promise<Run> {
  const { data } = await http.post<Run>(`/api/runs/${id}/stop`)
  return data
}

export async function cancelRun(id: number): Promise<Run> {
  const { data } = await http.post<Run>(`/api/runs/${id}/cancel`)
  return data
}

export async function resumeRun(id: number): Promise<Run> {
  const { data } = await http.post<Run>(`/api/runs/${id}/resume`)
  return data
}

export async function listRuns(): Promise<Run[]> {
  const { data } = await http.get<Run[] | { items: Run[] }>('/api/runs')
  return Array.isArray(data) ? data : data.items
}

export async function getRun(id: number): Promise<Run> {
  const { data } = await http.get<Run>(`/api/runs/${id}`)
  return data
}

export async function getRunMetrics(id: number): Promise<MetricPoint[]> {
  const { data } = await http.get<MetricPoint[] | { items: MetricPoint[] }>(`/api/runs/${id}/metrics`)
  return Array.isArray(data) ? data : data.items
}

export async function getRunLogs(id: number, tail = 200): Promise<string> {
  const { data } = await http.get<string | { text?: string; lines?: string[] }>(`/api/runs/${id}/logs`, {
    params: { tail },
  })
  if (typeof data === 'string') return data
  return data.text ?? (data.lines ?? []).join('\n')
}

/** URL of the run's server-sent event stream (progress, metrics, status, log lines). */
export function runEventsUrl(id: number): string {
  return `/api/runs/${id}/events`
}
