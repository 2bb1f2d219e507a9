/** Background jobs of every kind (training, batch prediction, export, model preparation) under /api/jobs. */
import { http } from './http'

export type JobKind = 'train' | 'batch_predict' | 'export' | 'prepare_model'
export type JobStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'stopped' | 'cancelled' | 'interrupted'

export const JOB_KINDS: JobKind[] = ['train', 'batch_predict', 'export', 'prepare_model']
export const JOB_STATUSES: JobStatus[] = ['queued', 'running', 'succeeded', 'failed', 'stopped', 'cancelled', 'interrupted']
export const ACTIVE_JOB_STATUSES: string[] = ['queued', 'running']

/** The one progress shape every kind streams (backend api/schemas/jobs.py JobProgressPublic). */
export interface JobProgress {
  done: number
  /** 0 while unknown. */
  total: number
  /** Phase, e.g. loading_model, training, predicting, exporting. */
  message: string
  /** done / total, 0..1; 1 once succeeded; null while the total is unknown. */
  fraction: number | null
  /** Seconds left while running, when known. */
  eta_s: number | null
}

export interface Job {
  id: number
  kind: JobKind
  status: JobStatus
  /** What the job works on: run name, batch file name, "version · variant". */
  subject: string
  /** The kind's parameters: run_id (train), batch_job_id + model_id (batch_predict), version_id + variant (export). */
  params: Record<string, unknown>
  result: { version_id?: number | null; output_path?: string; metrics?: Record<string, number> }
  progress: JobProgress
  error_message: string
  owner: string
  attempts: number
  log_path: string
  created_at: string
  started_at: string | null
  heartbeat_at: string | null
  finished_at: string | null
  duration_s: number | null
}

export interface JobLog {
  job_id: number
  lines: string[]
  size_bytes: number
  /** False for kinds that run inside the server and keep no log file of their own. */
  has_log: boolean
}

export interface JobQuery {
  kind?: JobKind
  /** With `kind`: only the jobs of this run (train), batch job (batch_predict) or version (export). */
  belongsTo?: number
  limit?: number
}

/** Which parameter names the thing a job belongs to (mirrors the server's BELONGS_TO_KEY). */
const BELONGS_TO_KEY: Partial<Record<JobKind, string>> = { train: 'run_id', batch_predict: 'batch_job_id', export: 'version_id' }

export function belongsTo(job: Job): number | null {
  const key = BELONGS_TO_KEY[job.kind]
  const value = key ? job.params[key] : undefined
  return typeof value === 'number' ? value : null
}

export function matchesQuery(job: Job, query: JobQuery): boolean {
  if (query.kind && job.kind !== query.kind) return false
  return query.belongsTo === undefined || belongsTo(job) === query.belongsTo
}

export function isActiveJob(job: Job | null | undefined): boolean {
  return !!job && ACTIVE_JOB_STATUSES.includes(job.status)
}

export async function listJobs(query: JobQuery = {}): Promise<Job[]> {
  const params: Record<string, unknown> = { limit: query.limit ?? 200 }
  if (query.kind) params.kind = query.kind
  if (query.belongsTo !== undefined) params.belongs_to = query.belongsTo
  const { data } = await http.get<Job[]>('/api/jobs', { params })
  return data
}

export async function getJob(id: number): Promise<Job> {
  const { data } = await http.get<Job>(`/api/jobs/${id}`)
  return data
}

export async function getJobLog(id: number, lines = 300): Promise<JobLog> {
  const { data } = await http.get<JobLog>(`/api/jobs/${id}/log`, { params: { lines } })
  return data
}

/** Server-sent `job` events: one job's snapshot whenever it changes; the server ends the stream after its end. */
export function jobEventsUrl(id: number): string {
  return `/api/jobs/${id}/events`
}

/** Server-sent `job` events for every job (new ones included), one connection for a whole list. */
export const ALL_JOB_EVENTS_URL = '/api/jobs/events'
