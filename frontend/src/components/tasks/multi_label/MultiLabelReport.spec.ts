import { describe, expect, it } from 'vitest'

import type { ValidationReport } from '@/api/datasets'
import { mountWith } from '@/test/setup'

import MultiLabelReport from './MultiLabelReport.vue'

const report = {
  source: { multi_label_form: { format: 'separated', separator: '|' } },
  multi_label: {
    labels_per_text: { '2': 30, '1': 120 },
    mean_labels_per_text: 1.2,
    texts_with_several_labels: 30,
    co_occurrence: [
      { labels: ['动力', '油耗'], count: 12 },
      { labels: ['价格', '配置'], count: 5 },
    ],
    rare_labels: { 安全性: 3 },
  },
} as unknown as ValidationReport

describe('MultiLabelReport', () => {
  it('says how labels were written and shows labels per text, the pairs seen together and the rare labels', () => {
    const w = mountWith(MultiLabelReport, { props: { report } })
    expect(w.find('[data-test=label-form]').text()).toContain('「|」')
    expect(w.find('[data-test=labels-per-text]').text()).toMatch(/1 个标签\s*120.*2 个标签\s*30/s)
    expect(w.find('[data-test=co-occurrence]').text()).toContain('动力 + 油耗')
    expect(w.find('[data-test=rare-labels]').text()).toContain('安全性 (3)')
  })
})
