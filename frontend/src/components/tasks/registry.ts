/**
 * One entry per NLP task: how its inputs are typed on the inference page and how one answer is shown. Adding a task
 * means a folder `components/tasks/<task>/` and one entry here; pages never branch on the task name themselves.
 */
import type { Component } from 'vue'

import type { ModelSummary } from '@/api/models'
import type { PredictInput } from '@/api/predict'
import type { TaskKind } from '@/api/types'
import ClassAnswer from '@/components/tasks/classification/ClassAnswer.vue'
import MultiLabelBars from '@/components/tasks/multi_label/MultiLabelBars.vue'
import ThresholdEditor from '@/components/tasks/multi_label/ThresholdEditor.vue'
import GenerationAnswer from '@/components/tasks/generation/GenerationAnswer.vue'
import GenerationMetrics from '@/components/tasks/generation/GenerationMetrics.vue'
import GenerationReport from '@/components/tasks/generation/GenerationReport.vue'
import EntityHighlight from '@/components/tasks/ner/EntityHighlight.vue'
import MultiLabelReport from '@/components/tasks/multi_label/MultiLabelReport.vue'
import NerReport from '@/components/tasks/ner/NerReport.vue'
import PairReport from '@/components/tasks/pair/PairReport.vue'
import PairInput from '@/components/tasks/pair/PairInput.vue'
import TextInput from '@/components/tasks/TextInput.vue'
import { formatNumber, formatPercent } from '@/utils/format'

export interface TaskUi {
  /** Edits the request input (v-model: `{ text }` or `{ text_a, text_b }`). */
  input: Component
  /** A blank input of the shape `input` edits. */
  emptyInput: () => PredictInput
  /** Shows one prediction (prop `prediction`). */
  answer: Component
  /** Optional dataset-page panel for the task's own part of the validation report (prop `report`). */
  report?: Component
  /** Optional model-page panel for the version's editable task settings (prop `model`, emits `saved`). */
  settings?: Component
  /** Optional model-page panel replacing the per-class cards (baseline, per class, confusion, mistakes; prop `model`). */
  versionPanel?: Component
  /** Versions answer conversations: the model page offers the chat page instead of the prediction page. */
  chat?: boolean
  /** The key metric shown next to a version's name. */
  metric: string
  /** Metrics (key_metrics keys) that are plain numbers, not 0..1 shares shown as percentages. */
  plainMetrics?: string[]
  /** Show the task's headline metrics in their own card on the model page (the classification page has its own). */
  metricsCard?: boolean
  /** i18n key of the heading above one answer (default: class probabilities). */
  answerTitle?: string
  /** Its classical baseline (base model `tfidf`: TF-IDF + LR, one-vs-rest, pair features, CRF) trains as a version. */
  baselineVersion?: boolean
  /** The serving variant name of that classical model, as the baseline and ensemble panels name it (default `tfidf`). */
  baselineKind?: 'tfidf' | 'crf'
  /** Metrics (labels `tasks.metric.<key>`) the baseline panel compares (default accuracy, macro-F1, weighted F1). */
  baselineMetrics?: string[]
  /** i18n key of the batch card's hint: which columns the file needs and what the result adds (default: one text). */
  batchHint?: string
  /** Metrics (labels `tasks.metric.<key>`) the model overview shows instead of accuracy and macro-F1. */
  overview?: string[]
}

const textInput = () => ({ text: '' })
const classification: TaskUi = { input: TextInput, emptyInput: textInput, answer: ClassAnswer, metric: 'accuracy', baselineVersion: true }

export const TASKS: Partial<Record<TaskKind, TaskUi>> = {
  classification,
  multi_label: { input: TextInput, emptyInput: textInput, answer: MultiLabelBars, settings: ThresholdEditor, report: MultiLabelReport, metric: 'micro_f1', metricsCard: true, plainMetrics: ['hamming_loss', 'baseline_hamming_loss'], batchHint: 'tasks.batchHints.multi_label', baselineVersion: true, overview: ['micro_f1', 'macro_f1'], baselineMetrics: ['micro_f1', 'macro_f1', 'subset_accuracy'] },
  pair: { input: PairInput, emptyInput: () => ({ text_a: '', text_b: '' }), answer: ClassAnswer, report: PairReport, metric: 'accuracy', metricsCard: true, batchHint: 'tasks.batchHints.pair', baselineVersion: true },
  ner: { input: TextInput, emptyInput: textInput, answer: EntityHighlight, metric: 'micro_f1', metricsCard: true, answerTitle: 'tasks.ner.found', batchHint: 'tasks.batchHints.ner', report: NerReport, baselineVersion: true, baselineKind: 'crf', overview: ['micro_f1', 'macro_f1'], baselineMetrics: ['micro_f1', 'micro_precision', 'micro_recall', 'macro_f1'] },
  generation: {
    input: TextInput,
    emptyInput: textInput,
    answer: GenerationAnswer,
    answerTitle: 'tasks.generation.answer',
    report: GenerationReport,
    versionPanel: GenerationMetrics,
    chat: true,
    metric: 'perplexity',
    overview: ['perplexity', 'rouge_l'],
    plainMetrics: ['loss', 'perplexity', 'baseline_loss', 'baseline_perplexity'],
  },
}

/** Tasks offered on upload, in menu order. */
export const UPLOAD_TASKS: TaskKind[] = ['classification', 'multi_label', 'pair', 'ner', 'generation']

/** The serving-variant name of a task's classical baseline (`tfidf`, NER `crf`): how the panels name it. */
export function baselineKind(task: TaskKind | string | undefined): 'tfidf' | 'crf' {
  return taskUi(task).baselineKind ?? 'tfidf'
}

type Listed = Pick<ModelSummary, 'task' | 'key_metrics' | 'serving_variant'>

/** A version's `key` metric for what answers its predictions: its blend with the baseline's when it serves that. */
export function answeringValue(m: Listed, key: string): { value: number | undefined; blended: boolean } {
  const blend = m.key_metrics[`ensemble_${key}`]
  const blended = m.serving_variant === 'ensemble' && blend !== undefined
  return { value: blended ? blend : m.key_metrics[key], blended }
}

/** The task's key metric of what answers a version's predictions. */
export function answeringMetric(m: Listed): { key: string; value: number | undefined; blended: boolean } {
  const key = taskUi(m.task).metric
  return { key, ...answeringValue(m, key) }
}

/** A version's metric as shown: percentages for shares, plain numbers for losses and perplexities. */
export function formatTaskMetric(task: TaskKind | string | undefined, key: string, value: number | undefined): string {
  return taskUi(task).plainMetrics?.includes(key) ? formatNumber(value, 3) : formatPercent(value)
}

export function taskUi(task: TaskKind | string | undefined): TaskUi {
  return TASKS[(task || 'classification') as TaskKind] ?? classification
}
