/** Pretrained models a run can start from: presets, local folders, the embedded model. */
import { http } from './http'

export interface BaseModel {
  /** What POST /train takes as `base_model`. */
  source: string
  name: string
  kind?: string
  description?: string
  available: boolean
  size_bytes?: number | null
  params?: number | null
  max_length?: number | null
  languages?: string[]
  recommended?: boolean
  download?: { status?: string; percent?: number | null; message?: string } | null
  [key: string]: unknown
}

export async function listBaseModels(): Promise<BaseModel[]> {
  const { data } = await http.get<BaseModel[] | { items: BaseModel[] }>('/api/base-models')
  return Array.isArray(data) ? data : data.items
}
