/** Training runs: start/status (the spec's /train paths) and the run resource under /api/runs. */
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

export const ACTIVE_STATUSES: string[] = ['queued', 'running', 'stopping']
export const RESUMABLE_STATUSES: string[] = ['stopped', 'interrupted']

/** Latest snapshot written by the worker (ml/training/trainer.py, worker/runner.py). */
export interface RunProgress {
  phase?: 'loading_model' | 'training' | 'evaluating' | 'baseline' | 'saving' | 'exporting' | 'done' | string
  step?: number
  total_steps?: number
  epoch?: number
  loss?: number | null
  learning_rate?: number | null
  samples_per_s?: number | null
  elapsed_s?: number
  eta_s?: number | null
  train_size?: number
  last_eval?: Record<string, number>
  model_version_id?: number
  accuracy?: number
  time_budget?: BudgetPlan
  /** Set when the run is done: the baseline's value of the primary metric (`metric`) and whether the version beat it. */
  metric?: string
  baseline?: number
  beats_baseline?: boolean
  /** Set when training found the blend with the baseline better: its primary metric, the baseline's weight in it, and
   * whether the version answers with it by default. */
  ensemble_value?: number
  ensemble_weight?: number
  ensemble_default?: boolean
  /** Set when the model gives nearly every validation text the same label: that label, its share of the answers, and
   * the accuracy of always answering the most common true label. */
  one_answer?: string
  one_answer_share?: number
  majority_accuracy?: number
  [key: string]: unknown
}

/** The CPU time budget's plan (backend ml/training/budget.py BudgetPlan), with the actual time once trained. */
export interface BudgetPlan {
  budget_s: number
  measured_s_per_step: number
  measure_s: number
  requested_max_length: number
  requested_epochs: number
  max_length: number
  epochs: number
  train_rows: number
  rows_seen: number
  truncation_share: number
  estimated_s: number
  fits: boolean
  changed: string[]
  message: string
  actual_s: number | null
}

export interface Run {
  id: number
  name: string
  status: RunStatus
  dataset_id: number | null
  task?: string
  base_model: string
  config: Record<string, unknown>
  queue_position: number | null
  stop_requested: boolean
  pid: number | null
  device: string
  progress: RunProgress
  error_message: string
  log_tail: string
  resume_count: number
  created_at: string
  queued_at: string
  started_at: string | null
  finished_at: string | null
  model_version_ids: number[]
}

export interface MetricPoint {
  id: number
  kind: 'train' | 'eval' | 'system' | string
  step: number
  epoch: number
  values: Record<string, number | null>
  created_at: string
}

export interface TrainRequest {
  dataset_id: number
  base_model: string
  config: Record<string, unknown>
}

export interface TrainStatus {
  current: Run | null
  running: Run[]
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

export async function listRuns(limit = 100): Promise<Run[]> {
  const { data } = await http.get<{ items: Run[]; total: number }>('/api/runs', { params: { limit } })
  return data.items
}

export async function getRun(id: number): Promise<Run> {
  const { data } = await http.get<Run>(`/api/runs/${id}`)
  return data
}

/** Metric points newer than `afterId` (0 = all) and the id to pass next time. */
export async function getRunMetrics(id: number, afterId = 0): Promise<{ items: MetricPoint[]; last_id: number }> {
  const { data } = await http.get<{ items: MetricPoint[]; last_id: number }>(`/api/runs/${id}/metrics`, {
    params: { after_id: afterId },
  })
  return data
}

export async function getRunLogs(id: number, lines = 200): Promise<string[]> {
  const { data } = await http.get<{ run_id: number; lines: string[]; size_bytes: number }>(`/api/runs/${id}/logs`, {
    params: { lines },
  })
  return data.lines
}

/** URL of the run's server-sent event stream: `run` events carry the run snapshot whenever it changes. */
export function runEventsUrl(id: number): string {
  return `/api/runs/${id}/events`
}
