/** Split a text into plain and entity segments (offsets in characters, end exclusive, as the API gives them). */
import type { Entity } from '@/api/predict'

export interface Segment {
  text: string
  entity?: Entity
}

/** Entities that overlap an earlier one are skipped: the API never sends any, but a segment must not repeat text. */
export function segments(text: string, entities: Entity[]): Segment[] {
  // Offsets count Unicode code points (Python str), JavaScript strings count UTF-16 units: index code points.
  const chars = Array.from(text)
  const out: Segment[] = []
  let pos = 0
  for (const e of [...entities].sort((a, b) => a.start - b.start)) {
    if (e.start < pos || e.end > chars.length || e.end <= e.start) continue
    if (e.start > pos) out.push({ text: chars.slice(pos, e.start).join('') })
    out.push({ text: chars.slice(e.start, e.end).join(''), entity: e })
    pos = e.end
  }
  if (pos < chars.length) out.push({ text: chars.slice(pos).join('') })
  return out
}

const PALETTE = ['#ffd6a5', '#caffbf', '#9bf6ff', '#bdb2ff', '#ffc6ff', '#fdffb6', '#a0c4ff', '#ffadad', '#d0f4de', '#e4c1f9']

/** The same colour for a type everywhere (answer, legend), whatever other types the text holds. */
export function entityColour(label: string): string {
  let h = 0
  for (const ch of label) h = (h * 31 + ch.codePointAt(0)!) >>> 0
  return PALETTE[h % PALETTE.length]
}
