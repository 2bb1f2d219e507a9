/** Hardware summary for the home page and the training page. */
import { http } from './http'

export interface GpuInfo {
  index: number
  name: string
  memory_total_bytes?: number | null
  memory_used_bytes?: number | null
}

export interface SystemInfo {
  cpu_count: number
  cpu_percent?: number | null
  memory_total_bytes: number
  memory_available_bytes: number
  torch_available: boolean
  cuda_available: boolean
  gpus: GpuInfo[]
  mps_available?: boolean
}

export async function getSystemInfo(): Promise<SystemInfo> {
  const { data } = await http.get<SystemInfo>('/api/system')
  return data
}
