import { flushPromises } from '@vue/test-utils'
import { describe, expect, it } from 'vitest'

import type { ModelMetrics } from '@/api/models'
import { mountWith } from '@/test/setup'

import BaselineComparison from './BaselineComparison.vue'

const stubs = { global: { stubs: { EChart: true } } }

describe('BaselineComparison', () => {
  it('compares accuracy and F1 with the TF-IDF baseline by default, and names the floor of always answering one label', async () => {
    const metrics = { accuracy: 0.9, macro_f1: 0.8, weighted_f1: 0.85, majority_accuracy: 0.6425, baseline: { accuracy: 0.88, macro_f1: 0.7, weighted_f1: 0.8 } }
    const w = mountWith(BaselineComparison, { props: { metrics: metrics as unknown as ModelMetrics }, ...stubs })
    await flushPromises()
    expect(w.findAll('[data-test=baseline-metric]').map((c) => c.text())).toEqual(['准确率', '宏平均 F1', '加权 F1'])
    expect(w.findAll('[data-test=baseline-value]').map((c) => c.text())).toEqual(['88.0%', '70.0%', '80.0%'])
    expect(w.text()).toContain('TF-IDF + 逻辑回归')
    expect(w.find('[data-test=majority-accuracy]').text()).toBe('参照：一直回答验证集中最常见的类别，准确率 64.3%。')
  })

  it("names an NER version's character CRF and compares entity scores, not character accuracy", async () => {
    const metrics = { accuracy: 0.32, micro_f1: 0.62, micro_precision: 0.6, micro_recall: 0.65, macro_f1: 0.6, baseline: { micro_f1: 0.61, micro_precision: 0.69, micro_recall: 0.55, macro_f1: 0.61 } }
    const keys = ['micro_f1', 'micro_precision', 'micro_recall', 'macro_f1']
    const w = mountWith(BaselineComparison, { props: { metrics: metrics as unknown as ModelMetrics, kind: 'crf', keys }, ...stubs }, 'en')
    await flushPromises()
    expect(w.findAll('[data-test=baseline-metric]').map((c) => c.text())).toEqual(['Micro-F1', 'Micro precision', 'Micro recall', 'Macro-F1'])
    expect(w.findAll('[data-test=baseline-value]').map((c) => c.text())).toEqual(['61.0%', '69.0%', '55.0%', '61.0%'])
    expect(w.text()).toContain('character CRF')
    expect(w.text()).not.toContain('TF-IDF')
    expect(w.text()).not.toContain('32.0%')
    expect(w.find('[data-test=majority-accuracy]').exists()).toBe(false)
  })
})
