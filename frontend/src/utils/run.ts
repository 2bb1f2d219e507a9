/** Derived numbers of a run's progress snapshot. */
import type { Run } from '@/api/runs'

export function runPercent(run: Run | null | undefined): number {
  if (!run) return 0
  if (run.status === 'succeeded') return 100
  const p = run.progress ?? {}
  if (typeof p.percent === 'number') return clamp(p.percent <= 1 && p.percent > 0 && !p.total_steps ? p.percent * 100 : p.percent)
  if (p.step && p.total_steps) return clamp((p.step / p.total_steps) * 100)
  return 0
}

function clamp(v: number): number {
  return Math.max(0, Math.min(100, Math.round(v * 10) / 10))
}

export function runTitle(run: Run): string {
  return run.name || `#${run.id}`
}
