/** Derived numbers of a run's progress snapshot. */
import type { Run } from '@/api/runs'

/** Training progress in percent, from step / total_steps (the snapshot's `percent` belongs to a model download). */
export function runPercent(run: Run | null | undefined): number {
  if (!run) return 0
  if (run.status === 'succeeded') return 100
  const p = run.progress ?? {}
  if (p.step && p.total_steps) return Math.max(0, Math.min(100, Math.round((p.step / p.total_steps) * 1000) / 10))
  return 0
}

/** Download/conversion percent while the base model is being fetched, else null. */
export function downloadPercent(run: Run | null | undefined): number | null {
  const p = run?.progress
  return p && p.phase === 'loading_model' && typeof p.percent === 'number' ? p.percent : null
}

export function runTitle(run: Run): string {
  return run.name || `#${run.id}`
}
