/** Serving variants of a version: display order, the int8 accuracy-drop alarm, and accuracy deltas in points. */
import type { ModelDetail, VariantName } from '@/api/models'

/** Slowest and most exact first, as the user reads the trade-off. */
export const VARIANT_ORDER: VariantName[] = ['pytorch', 'onnx', 'onnx_int8', 'ensemble', 'tfidf']

/** An int8 variant losing more than this much accuracy (one point) is flagged to the user. */
export const INT8_MAX_DROP = 0.01

/** An accuracy delta (fraction) as signed percentage points: -0.012 -> "-1.2", 0.004 -> "+0.4", 0 -> "0.0". */
export function formatPoints(delta: number): string {
  const points = Math.round(delta * 1000) / 10
  if (points === 0) return '0.0'
  return `${points > 0 ? '+' : ''}${points.toFixed(1)}`
}

/** Variants this version offers that are built and can answer now, in display order. */
export function readyVariants(model: Pick<ModelDetail, 'variants'>): VariantName[] {
  return VARIANT_ORDER.filter((name) => model.variants[name]?.status === 'ready')
}

/** How many points the int8 variant loses against PyTorch when that exceeds the limit; null when acceptable or unknown. */
export function int8Drop(model: Pick<ModelDetail, 'variants'>): number | null {
  const delta = model.variants.onnx_int8?.accuracy_delta
  return delta !== null && delta !== undefined && delta < -INT8_MAX_DROP ? -delta : null
}
