import { flushPromises } from '@vue/test-utils'
import { afterEach, describe, expect, it, vi } from 'vitest'

import * as jobsApi from '@/api/jobs'
import type { Job } from '@/api/jobs'
import * as modelsApi from '@/api/models'
import type { ModelDetail, VariantInfo } from '@/api/models'
import { FakeEventSource } from '@/test/eventSource'
import { mountWith } from '@/test/setup'
import { formatPoints } from '@/utils/variants'

import ServingVariants from './ServingVariants.vue'

vi.mock('@/api/models', () => ({ exportVariant: vi.fn(), getModel: vi.fn(), setServingVariant: vi.fn() }))
vi.mock('@/api/jobs', async (importOriginal) => ({
  ...(await importOriginal<typeof import('@/api/jobs')>()),
  listJobs: vi.fn(async () => []),
}))

const ABSENT: VariantInfo = { status: 'absent', size_bytes: null, accuracy_delta: null, evaluation: null, error: null }

function ready(delta: number, agreement = 0.98): VariantInfo {
  return {
    status: 'ready',
    size_bytes: 4_000_000,
    accuracy_delta: delta,
    evaluation: { samples: 50, agreement, max_probability_diff: 0.01, accuracy: 0.9 + delta, accuracy_reference: 0.9, accuracy_delta: delta },
    error: null,
  }
}

function version(variants: Partial<Record<'onnx' | 'onnx_int8', VariantInfo>>, served: ModelDetail['serving_variant'] = 'pytorch') {
  return {
    id: 7,
    name: 'v7',
    kind: 'transformer',
    size_bytes: 16_000_000,
    serving_variant: served,
    variants: { pytorch: { ...ABSENT, status: 'ready' }, onnx: ABSENT, onnx_int8: ABSENT, ...variants },
    loaded_variants: ['pytorch'],
    metrics: { accuracy: 0.9 },
  } as unknown as ModelDetail
}

async function mountFor(model: ModelDetail) {
  const w = mountWith(ServingVariants, { props: { model } })
  await flushPromises() // el-table renders its rows after mounting
  // Behave like the page: every answer from the server replaces the version shown.
  const follow = () => {
    const last = w.emitted<[ModelDetail]>('updated')?.at(-1)?.[0]
    if (last) void w.setProps({ model: last })
  }
  // A click whose answer the page shows: the request settles, then the returned version is displayed.
  const click = async (selector: string) => {
    await w.find(selector).trigger('click')
    await flushPromises()
    follow()
    await flushPromises()
  }
  return { w, follow, click }
}

/** Job 1 (or 2 for another version) exporting the fp32 copy of version `versionId`. */
function exportJob(status: Job['status'], versionId: number, message = ''): Job {
  return {
    id: versionId === 7 ? 1 : 2,
    kind: 'export',
    status,
    subject: 'v · onnx',
    params: { version_id: versionId, variant: 'onnx' },
    progress: { done: 0, total: 0, message, fraction: status === 'succeeded' ? 1 : null, eta_s: null },
    error_message: '',
  } as unknown as Job
}

afterEach(() => {
  vi.useRealTimers()
  vi.unstubAllGlobals()
})

describe('ServingVariants', () => {
  it('explains each variant, marks the served one and offers build or serve as fits its state', async () => {
    const failed = { ...ABSENT, status: 'failed', error: 'RuntimeError: export broke' }
    const { w } = await mountFor(version({ onnx: ready(0), onnx_int8: failed }, 'onnx'))

    expect(w.text()).toContain('答案与原始模型相同')
    expect(w.text()).toContain('体积约为四分之一')
    expect(w.find('[data-test=variant-onnx]').attributes('data-served')).toBe('true')
    expect(w.find('[data-test=variant-pytorch]').attributes('data-served')).toBe('false')
    expect(w.findAll('[data-test=served]')).toHaveLength(1)
    expect(w.find('[data-test=serve-onnx]').exists()).toBe(false) // already serving
    expect(w.find('[data-test=serve-pytorch]').text()).toBe('使用此版本提供服务')
    expect(w.find('[data-test=build-onnx]').exists()).toBe(false) // already built
    expect(w.find('[data-test=build-onnx_int8]').text()).toBe('重新生成')
    expect(w.find('[data-test=variant-error]').text()).toContain('RuntimeError: export broke')
    expect(w.find('[data-test=accuracy-onnx]').text()).toContain('准确率 0.0 个百分点')
    expect(w.find('[data-test=accuracy-onnx]').text()).toContain('98.0% 的预测相同（50 条验证文本）')
  })

  it('warns when int8 loses more than one accuracy point, and only then', async () => {
    const bad = (await mountFor(version({ onnx: ready(0), onnx_int8: ready(-0.025) }))).w
    expect(bad.find('[data-test=int8-warning]').text()).toContain('低 2.5 个百分点')
    expect(bad.find('[data-test=accuracy-onnx_int8]').text()).toContain('准确率 -2.5 个百分点')
    const fine = (await mountFor(version({ onnx: ready(0), onnx_int8: ready(-0.01) }))).w
    expect(fine.find('[data-test=int8-warning]').exists()).toBe(false)
  })

  it('builds a variant, shows its export job live and reads the version again once the job ends', async () => {
    vi.stubGlobal('EventSource', FakeEventSource)
    const { w, follow, click } = await mountFor(version({}))
    expect(jobsApi.listJobs).toHaveBeenCalledWith({ kind: 'export', belongsTo: 7, limit: 20 })
    vi.mocked(modelsApi.exportVariant).mockResolvedValueOnce(version({ onnx: { ...ABSENT, status: 'building' } }))
    vi.mocked(modelsApi.getModel).mockResolvedValueOnce(version({ onnx: ready(0) }))

    await click('[data-test=build-onnx]')
    expect(modelsApi.exportVariant).toHaveBeenCalledWith(7, 'onnx')
    expect(w.find('[data-test=variant-onnx]').attributes('data-status')).toBe('building')
    expect(w.text()).toContain('正在生成')

    const es = FakeEventSource.last!
    expect(es.url).toBe('/api/jobs/events')
    es.emit('job', exportJob('running', 8)) // another version's build: not this table's
    es.emit('job', exportJob('running', 7, 'exporting'))
    await flushPromises()
    expect(w.find('[data-test=job-progress]').attributes('data-job-id')).toBe('1')
    expect(w.text()).toContain('导出中')
    expect(modelsApi.getModel).not.toHaveBeenCalled()

    es.emit('job', exportJob('succeeded', 7))
    await flushPromises()
    follow()
    await flushPromises()
    expect(modelsApi.getModel).toHaveBeenCalledTimes(1)
    expect(w.find('[data-test=variant-onnx]').attributes('data-status')).toBe('ready')
    expect(w.find('[data-test=serve-onnx]').exists()).toBe(true)
  })

  it('makes a ready variant the served one', async () => {
    const { w, click } = await mountFor(version({ onnx: ready(0) }))
    vi.mocked(modelsApi.setServingVariant).mockResolvedValueOnce(version({ onnx: ready(0) }, 'onnx'))
    await click('[data-test=serve-onnx]')
    expect(modelsApi.setServingVariant).toHaveBeenCalledWith(7, 'onnx')
    expect(w.find('[data-test=variant-onnx]').attributes('data-served')).toBe('true')
  })

  it("states PyTorch's reference score in the task's own key metric", async () => {
    const ner = { ...version({}), task: 'ner', variants: { pytorch: { ...ABSENT, status: 'ready' } }, metrics: { accuracy: 0.32, micro_f1: 0.623 } } as unknown as ModelDetail
    const { w } = await mountFor(ner)
    expect(w.text()).toContain('参照（验证微平均 F1 62.3%）')
    const { w: classifier } = await mountFor(version({}))
    expect(classifier.text()).toContain('参照（验证准确率 90.0%）')
  })
})

describe('formatPoints', () => {
  it('shows a fraction as signed percentage points with one decimal', () => {
    expect(formatPoints(-0.0125)).toBe('-1.2')
    expect(formatPoints(0.004)).toBe('+0.4')
    expect(formatPoints(-0.0004)).toBe('0.0')
  })
})
