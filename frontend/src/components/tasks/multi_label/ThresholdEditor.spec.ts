import { describe, expect, it } from 'vitest'

import type { ModelDetail } from '@/api/models'
import { mountWith } from '@/test/setup'

import ThresholdEditor from './ThresholdEditor.vue'

function model(variant: string): ModelDetail {
  return {
    id: 3,
    labels: ['动力', '油耗'],
    task_settings: { thresholds: { mode: 'per_label', global: 0.5, per_label: { 动力: 0.35, 油耗: 0.6 } }, variant },
  } as unknown as ModelDetail
}

describe('ThresholdEditor', () => {
  it("says the thresholds are the ensemble's when the ensemble answers for the version", () => {
    const w = mountWith(ThresholdEditor, { props: { model: model('ensemble') } })
    expect(w.find('[data-test=thresholds-of-ensemble]').text()).toContain('集成')
    expect(w.findAll('[data-label]').map((r) => r.attributes('data-label'))).toEqual(['动力', '油耗'])
  })

  it('says nothing of the ensemble when the model itself answers', () => {
    const w = mountWith(ThresholdEditor, { props: { model: model('onnx') } })
    expect(w.find('[data-test=thresholds-of-ensemble]').exists()).toBe(false)
  })
})
