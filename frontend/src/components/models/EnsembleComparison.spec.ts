import { flushPromises } from '@vue/test-utils'
import { describe, expect, it, vi } from 'vitest'

import * as modelsApi from '@/api/models'
import type { EnsembleRecord, ModelDetail } from '@/api/models'
import { mountWith } from '@/test/setup'

import EnsembleComparison from './EnsembleComparison.vue'

vi.mock('@/api/models', () => ({ setServingVariant: vi.fn() }))

function record(offered: boolean): EnsembleRecord {
  const best = offered ? 0.95 : 0.9
  return {
    weight: offered ? 0.3 : 0,
    primary_metric: 'accuracy',
    metrics: { accuracy: best, macro_f1: best },
    model_value: 0.9,
    beats_model: offered,
    offered,
    by_weight: Array.from({ length: 11 }, (_, i) => ({ weight: i / 10, accuracy: i === 3 && offered ? 0.95 : 0.9 })),
  }
}

function version(served: ModelDetail['serving_variant'] = 'onnx'): ModelDetail {
  return { id: 7, task: 'classification', serving_variant: served, metrics: { accuracy: 0.9, baseline: { accuracy: 0.85, macro_f1: 0.85, weighted_f1: 0.85 } } } as unknown as ModelDetail
}

describe('EnsembleComparison', () => {
  it("shows the ensemble's validation score beside the model's and the baseline's and serves it on request", async () => {
    const w = mountWith(EnsembleComparison, { props: { model: version(), record: record(true) }, global: { stubs: { EChart: true } } })
    await flushPromises()
    expect(w.find('[data-test=ensemble-model]').text()).toBe('90.0%')
    expect(w.find('[data-test=ensemble-baseline]').text()).toBe('85.0%')
    expect(w.find('[data-test=ensemble-ensemble]').text()).toBe('95.0%')
    expect(w.text()).toContain('集成（基线权重 0.3）')
    expect(w.text()).toContain('TF-IDF 基线')
    expect(w.find('[data-test=ensemble-verdict]').text()).toBe('集成在验证集上比模型本身高 5.0 个百分点。')

    vi.mocked(modelsApi.setServingVariant).mockResolvedValueOnce(version('ensemble'))
    await w.find('[data-test=serve-ensemble]').trigger('click')
    await flushPromises()
    expect(modelsApi.setServingVariant).toHaveBeenCalledWith(7, 'ensemble')
    expect(w.emitted<[ModelDetail]>('updated')?.at(-1)?.[0].serving_variant).toBe('ensemble')
  })

  it('says plainly when the blend did not beat the model, and offers nothing to serve', async () => {
    const w = mountWith(EnsembleComparison, { props: { model: version(), record: record(false) }, global: { stubs: { EChart: true } } }, 'en')
    await flushPromises()
    expect(w.find('[data-test=ensemble-verdict]').text()).toContain('does not beat the model alone')
    expect(w.find('[data-test=serve-ensemble]').exists()).toBe(false)
  })

  it("names an NER version's character CRF as the baseline it blends with", async () => {
    const ner = { ...version(), task: 'ner' } as ModelDetail
    const w = mountWith(EnsembleComparison, { props: { model: ner, record: record(true) }, global: { stubs: { EChart: true } } }, 'en')
    await flushPromises()
    expect(w.text()).toContain('CRF baseline')
    expect(w.text()).not.toContain('TF-IDF')
  })

  it('marks the ensemble as serving once it is chosen', async () => {
    const w = mountWith(EnsembleComparison, { props: { model: version('ensemble'), record: record(true) }, global: { stubs: { EChart: true } } })
    await flushPromises()
    expect(w.find('[data-test=ensemble-served]').exists()).toBe(true)
    expect(w.find('[data-test=serve-ensemble]').exists()).toBe(false)
  })

  it("reports the blend's cross-fitted score, with the in-sample one it replaces and each fold's weight", async () => {
    const honest = { ...record(true), cross_fitted_value: 0.93, fold_weights: [0.3, 0.3, 0.2, 0.3, 0.4] }
    const w = mountWith(EnsembleComparison, { props: { model: version(), record: honest }, global: { stubs: { EChart: true } } })
    await flushPromises()
    expect(w.find('[data-test=ensemble-ensemble]').text()).toBe('93.0%')
    expect(w.find('[data-test=ensemble-verdict]').text()).toBe('集成在验证集上比模型本身高 3.0 个百分点。')
    const note = w.find('[data-test=ensemble-cross-fitted]').text()
    expect(note).toContain('（0.3 / 0.3 / 0.2 / 0.3 / 0.4）')
    expect(note).toContain('为 95.0%')
  })
})
