import { describe, expect, it } from 'vitest'

import type { ModelSummary } from '@/api/models'
import { answeringValue } from '@/components/tasks/registry'
import { mountWith } from '@/test/setup'

import KeyMetric from './KeyMetric.vue'

const ner = (serving: string) =>
  ({ task: 'ner', serving_variant: serving, key_metrics: { accuracy: 0.32, micro_f1: 0.623, ensemble_micro_f1: 0.707, macro_f1: 0.5, ensemble_macro_f1: 0.6 } }) as unknown as ModelSummary

describe('KeyMetric', () => {
  it('shows the blend’s micro-F1 of an NER version that answers with its ensemble, named as such', () => {
    const w = mountWith(KeyMetric, { props: { model: ner('ensemble') } })
    expect(w.text()).toContain('70.7%')
    expect(w.text()).toContain('微平均 F1 · 集成')
    expect(w.text()).not.toContain('32.0%')
  })

  it('shows the model’s own score once PyTorch answers again', () => {
    const w = mountWith(KeyMetric, { props: { model: ner('pytorch') } })
    expect(w.text()).toContain('62.3%')
    expect(w.text()).not.toContain('集成')
  })

  it('shows a classification version’s accuracy', () => {
    const model = { task: 'classification', serving_variant: 'onnx', key_metrics: { accuracy: 0.9, macro_f1: 0.8 } } as unknown as ModelSummary
    const w = mountWith(KeyMetric, { props: { model } }, 'en')
    expect(w.text()).toContain('90.0%')
    expect(w.text()).toContain('Accuracy')
  })

  it('gives the lists’ other columns (macro-F1) from the same variant', () => {
    expect(answeringValue(ner('ensemble'), 'macro_f1')).toEqual({ value: 0.6, blended: true })
    expect(answeringValue(ner('pytorch'), 'macro_f1')).toEqual({ value: 0.5, blended: false })
  })
})
