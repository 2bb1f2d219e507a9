import { flushPromises } from '@vue/test-utils'
import { describe, expect, it, vi } from 'vitest'
import { computed, ref } from 'vue'

import type { Run, RunProgress } from '@/api/runs'
import { mountWith } from '@/test/setup'

import RunLivePanel from './RunLivePanel.vue'

const shown = ref<Run | null>(null)
vi.mock('@/composables/useRunEvents', () => ({
  useRunEvents: () => ({
    run: shown,
    points: ref([]),
    logLines: ref([]),
    mode: ref('idle'),
    error: ref(null),
    isActive: computed(() => false),
    reconnect: vi.fn(),
  }),
}))
vi.mock('vue-router', () => ({ useRouter: () => ({ push: vi.fn() }) }))

function finished(progress: RunProgress): Run {
  return {
    id: 2, name: 'afqmc', status: 'succeeded', dataset_id: 2, task: 'pair', base_model: 'embedded:multilingual-e5-small',
    config: {}, queue_position: null, stop_requested: false, pid: null, device: 'cpu', progress, error_message: '',
    log_tail: '', resume_count: 0, created_at: '', queued_at: '', started_at: null, finished_at: null, model_version_ids: [3],
  }
}

describe('RunLivePanel', () => {
  it('warns that a model answering one label for nearly every text has not learned yet, with the accuracy of doing so', async () => {
    shown.value = finished({ metric: 'accuracy', accuracy: 0.6425, one_answer: '0', one_answer_share: 1, majority_accuracy: 0.6425 })
    const w = mountWith(RunLivePanel, { props: { runId: 2 }, global: { stubs: { RunCharts: true, SystemUsage: true, LogTail: true } } })
    await flushPromises()
    const alert = w.find('[data-test=one-answer]')
    expect(alert.text()).toContain('模型对 100.0% 的验证文本都回答「0」')
    expect(alert.text()).toContain('一直回答最常见的类别也能得到准确率 64.3%')

    shown.value = finished({ metric: 'accuracy', accuracy: 0.9 })
    await flushPromises()
    expect(w.find('[data-test=one-answer]').exists()).toBe(false)
  })
})
