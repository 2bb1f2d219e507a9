/** Shapes shared by several resources. */

export interface Page<T> {
  items: T[]
  total: number
  page: number
  page_size: number
}

export interface PerClassMetrics {
  precision: number
  recall: number
  f1: number
  support: number
}

export interface MisclassifiedExample {
  text: string
  true: string
  predicted: string
  confidence: number
}

/** Evaluation result as written by the training engine (ml/training/evaluation.py). */
export interface EvalMetrics {
  accuracy?: number
  macro_f1?: number
  weighted_f1?: number
  per_class?: Record<string, PerClassMetrics>
  confusion_matrix?: { labels: string[]; matrix: number[][] }
  misclassified?: MisclassifiedExample[]
  count?: number
  [key: string]: unknown
}

/** The NLP task of a dataset, run or version (backend core/tasks.py TaskKind). */
export type TaskKind = 'classification' | 'multi_label' | 'pair' | 'ner' | 'generation'
