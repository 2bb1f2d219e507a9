/** Datasets: the spec's `POST /upload` plus the resource API under /api/datasets. */
import { http } from './http'
import type { Page, TaskKind } from './types'

export interface HistogramBin {
  start: number
  end: number
  count: number
}

export interface LengthStats {
  min: number
  mean: number
  median: number
  p95: number
  max: number
  histogram: HistogramBin[]
}

/** A report warning: stable code (translated by the UI), English message, details. */
export interface ReportIssue {
  code: string
  message: string
  details?: Record<string, unknown>
}

export interface ConflictExample {
  text: string
  labels: string[]
  first_idx?: number
}

/** The validation report written at upload (datafiles/validate.py). */
export interface ValidationReport {
  rows_read: number
  rows_kept: number
  trainable_rows: number
  dropped: Record<string, number>
  malformed_rows: number[]
  conflicts: { texts: number; rows: number; examples: ConflictExample[] }
  labels_normalised: { original: string; normalised: string }[]
  label_counts: Record<string, number>
  split_counts: Record<string, number>
  text_length: LengthStats
  warnings: ReportIssue[]
  source?: {
    format: string
    encoding: string | null
    delimiter: string | null
    columns: string[]
    text_column: string
    label_column: string | null
    split_column: string | null
    guessed_columns: Record<string, string>
    size_bytes: number
    /** Multi-label files: how the labels were written (joined by a separator, a JSON list, one 0/1 column each). */
    multi_label_form?: { format: 'separated' | 'json_list' | 'wide'; separator: string | null; label_columns?: string[] }
  }
  ingest_seconds?: number
  /** The task the file's layout showed and what showed it (columns, JSON keys, tag scheme); `asked`: the uploader's
   * own choice (null: the detected task was used). Absent in reports made before detection. */
  task_detection?: { task: TaskKind | null; evidence: string[]; asked: TaskKind | null } | null
  /** NER datasets: entities per type, texts without any, entity lengths, texts refused because of their entities. */
  ner?: NerReport
  /** Generation datasets: conversations, turns, lengths, refused examples. */
  generation?: GenerationReport
  /** Multi-label datasets: labels per text, the most frequent label pairs, rare labels. */
  multi_label?: MultiLabelReport
  /** Sentence-pair datasets: lengths of each side, identical pairs. */
  pairs?: PairReport
}

export interface MultiLabelReport {
  labels_per_text: Record<string, number>
  mean_labels_per_text: number
  texts_with_several_labels: number
  co_occurrence: { labels: string[]; count: number }[]
  rare_labels: Record<string, number>
}

export interface PairReport {
  text_a_length: LengthStats
  text_b_length: LengthStats
  identical_pairs: number
  identical_pair_rows: number[]
  pairs_with_an_empty_side: number
}

export interface GenerationReport {
  layout: string
  layouts: Record<string, number>
  conversations: number
  turns: number
  multi_turn: number
  turns_per_conversation: Record<string, number>
  with_system_prompt: number
  prompt_length: LengthStats | null
  response_length: LengthStats | null
  empty_responses: number
  duplicates: number
  trailing_user_turns_dropped: number
  refused: { line: number; code: string; message: string }[]
  /** Token lengths under the default model's tokenizer (absent in reports made before they existed). */
  token_lengths?: TokenLengths
}

export type TokenLengths =
  | {
      available: true
      tokenizer: string
      prompt: LengthStats
      response: LengthStats
      conversation: LengthStats
      /** What training's automatic max length would pick (P95, rounded up to 8, capped at `cap`). */
      max_length: number
      truncated_share: number
      truncated: number
      cap: number
    }
  | { available: false; tokenizer: string; reason: string }

export interface NerReport {
  entity_counts: Record<string, number>
  entities?: number
  texts_without_entities: number
  entities_per_text?: Record<string, number>
  entity_length?: LengthStats
  refused: {
    rows: number
    /** reason code -> texts refused for it */
    counts: Record<string, number>
    /** line numbers in the file */
    lines: number[]
    examples: { line: number; code: string; message: string; text: string }[]
  }
}

/** A dataset as listed (no report). */
export interface DatasetSummary {
  id: number
  name: string
  task: TaskKind
  description: string
  filename: string
  file_format: string
  encoding: string
  text_column: string
  label_column: string
  rows_read: number
  row_count: number
  labels: Record<string, number>
  num_labels: number
  content_hash: string
  created_at: string
  updated_at: string
}

/** A dataset with its validation report. */
export interface Dataset extends DatasetSummary {
  report: ValidationReport
}

export interface DatasetRow {
  idx: number
  text: string
  label: string
  split: string | null
  conflict: boolean
  /** Sentence pairs: the second text. */
  text_b?: string | null
}

export interface RowQuery {
  page: number
  page_size: number
  label?: string
  q?: string
}

export interface UploadOptions {
  name?: string
  description?: string
  text_column?: string
  label_column?: string
  task?: TaskKind
  text_b_column?: string
}

export async function uploadDataset(
  file: File,
  options: UploadOptions = {},
  onProgress?: (percent: number) => void,
  signal?: AbortSignal,
): Promise<Dataset> {
  const form = new FormData()
  form.append('file', file)
  for (const [key, value] of Object.entries(options)) {
    if (value) form.append(key, value)
  }
  const { data } = await http.post<Dataset>('/upload', form, {
    timeout: 0, // large files: the server streams and validates, which can take a while
    signal,
    onUploadProgress: (e) => {
      if (onProgress && e.total) onProgress(Math.min(100, Math.round((e.loaded / e.total) * 100)))
    },
  })
  return data
}

export async function listDatasets(): Promise<DatasetSummary[]> {
  const { data } = await http.get<DatasetSummary[]>('/api/datasets')
  return data
}

export async function getDataset(id: number): Promise<Dataset> {
  const { data } = await http.get<Dataset>(`/api/datasets/${id}`)
  return data
}

export async function getDatasetRows(id: number, query: RowQuery): Promise<Page<DatasetRow>> {
  const params: Record<string, string | number> = { page: query.page, page_size: query.page_size }
  if (query.label) params.label = query.label
  if (query.q) params.q = query.q
  const { data } = await http.get<Page<DatasetRow>>(`/api/datasets/${id}/rows`, { params })
  return data
}

export async function renameDataset(id: number, name: string): Promise<Dataset> {
  const { data } = await http.patch<Dataset>(`/api/datasets/${id}`, { name })
  return data
}

export async function deleteDataset(id: number): Promise<void> {
  await http.delete(`/api/datasets/${id}`)
}
