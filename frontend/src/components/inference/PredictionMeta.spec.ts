import { describe, expect, it } from 'vitest'

import type { Prediction, PredictResponse } from '@/api/predict'
import { mountWith } from '@/test/setup'

import PredictionMeta from './PredictionMeta.vue'

function answer(windows: number | null): Prediction {
  return { label: '正面', score: 0.9, probabilities: [{ label: '正面', probability: 0.9 }], truncated: false, windows }
}

function response(prediction: Prediction, extra: Partial<PredictResponse> = {}): PredictResponse {
  return { task: 'classification', model_id: 3, model_name: 'v3', variant: 'onnx', latency_ms: 12.34, load_ms: null, predictions: [prediction], ...extra }
}

describe('PredictionMeta', () => {
  it('says how many windows a long text was read in, and nothing when it fitted', () => {
    const long = answer(3)
    const w = mountWith(PredictionMeta, { props: { result: response(long), prediction: long } })
    expect(w.find('[data-test=windows]').text()).toContain('长文本分 3 段读取')
    const short = answer(1)
    expect(mountWith(PredictionMeta, { props: { result: response(short), prediction: short } }).find('[data-test=windows]').exists()).toBe(false)
    const english = mountWith(PredictionMeta, { props: { result: response(long), prediction: long } }, 'en')
    expect(english.find('[data-test=windows]').text()).toContain('Long text read in 3 windows')
  })

  it('names the ensemble and what it blended', () => {
    const one = answer(1)
    const result = response(one, { variant: 'ensemble', ensemble: { model_variant: 'onnx', baseline: 'tfidf', baseline_weight: 0.3 } })
    const w = mountWith(PredictionMeta, { props: { result, prediction: one } })
    expect(w.find('[data-test=answered-variant]').text()).toContain('集成（模型 + 基线）')
    expect(w.find('[data-test=ensemble-parts]').text()).toContain('ONNX fp32 + TF-IDF，基线权重 0.3')
    expect(w.text()).toContain('12.3')
    const ner = response(one, { variant: 'ensemble', ensemble: { model_variant: 'pytorch', baseline: 'crf', baseline_weight: 0.4 } })
    const tagged = mountWith(PredictionMeta, { props: { result: ner, prediction: one } }, 'en')
    expect(tagged.find('[data-test=ensemble-parts]').text()).toContain('PyTorch fp32 (original) + CRF, baseline weight 0.4')
  })
})
