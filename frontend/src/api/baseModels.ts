/** Pretrained models a run can start from: Hugging Face and ModelScope presets, local folders, the embedded model, the TF-IDF baseline. */
import { http } from './http'

export type Availability = 'cached' | 'downloadable' | 'offline-ready' | 'unavailable'

export interface BaseModel {
  /** What POST /train takes as `base_model`. */
  source: string
  kind: 'hub' | 'modelscope' | 'local' | 'embedded' | 'tfidf'
  availability: Availability
  params_m: number
  size_mb: number
  description_en: string
  description_zh: string
  default: boolean
}

export interface BaseModelList {
  items: BaseModel[]
  default: string
  default_reason: string
  hub_endpoint: string
  hub_reachable: boolean
  hub_problem: string | null
}

export interface BaseModelCheck {
  source: string
  kind: BaseModel['kind']
  availability: Availability
  message: string
  size_mb: number | null
}

export interface EmbeddedStatus {
  status: 'idle' | 'running' | 'ready' | 'failed'
  folder: string | null
  progress: { stage: string; downloaded: number | null; total: number | null; percent: number | null } | null
  error: { code: string; message: string } | null
}

/** The models a task trains from (generation: causal LMs; the other tasks: encoders), with its default. */
export async function listBaseModels(task?: string): Promise<BaseModelList> {
  const { data } = await http.get<BaseModelList>('/api/base-models', { params: task ? { task } : {} })
  return data
}

/** Ask the server whether a source (e.g. a local folder path) can be trained from now. */
export async function checkBaseModel(source: string): Promise<BaseModelCheck> {
  const { data } = await http.post<BaseModelCheck>('/api/base-models/check', { source })
  return data
}

export async function getEmbeddedStatus(source: string): Promise<EmbeddedStatus> {
  const { data } = await http.get<EmbeddedStatus>('/api/base-models/embedded', { params: { source } })
  return data
}

export async function prepareEmbedded(source: string): Promise<EmbeddedStatus> {
  const { data } = await http.post<EmbeddedStatus>('/api/base-models/embedded/prepare', null, { params: { source } })
  return data
}

export function isUsable(a: Availability): boolean {
  return a !== 'unavailable'
}
