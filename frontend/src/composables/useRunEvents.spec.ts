import { flushPromises } from '@vue/test-utils'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { ref } from 'vue'

import type { MetricPoint, Run } from '@/api/runs'
import * as runsApi from '@/api/runs'
import { FakeEventSource } from '@/test/eventSource'
import { withSetup } from '@/test/setup'

import { useRunEvents } from './useRunEvents'

vi.mock('@/api/runs', async (importOriginal) => ({
  ...(await importOriginal<typeof import('@/api/runs')>()),
  getRun: vi.fn(),
  getRunMetrics: vi.fn(),
  getRunLogs: vi.fn(),
}))

function run(status: Run['status'], progress: Run['progress'] = {}): Run {
  return { id: 5, name: 'r', status, progress, model_version_ids: [] } as unknown as Run
}
function point(id: number, step: number): MetricPoint {
  return { id, kind: 'train', step, epoch: 0, values: { loss: 1 / step }, created_at: '' }
}

beforeEach(() => {
  vi.stubGlobal('EventSource', FakeEventSource)
  vi.mocked(runsApi.getRunLogs).mockResolvedValue(['line 1'])
})
afterEach(() => {
  vi.unstubAllGlobals()
  vi.useRealTimers()
})

describe('useRunEvents', () => {
  it('loads a snapshot, then follows pushed run events and pulls only the new metric points', async () => {
    vi.mocked(runsApi.getRun).mockResolvedValue(run('running', { step: 1, total_steps: 10 }))
    vi.mocked(runsApi.getRunMetrics)
      .mockResolvedValueOnce({ items: [point(1, 1)], last_id: 1 })
      .mockResolvedValueOnce({ items: [point(2, 2)], last_id: 2 })
    const { result, unmount } = withSetup(() => useRunEvents(ref(5)))
    await flushPromises()

    expect(result.run.value?.progress.step).toBe(1)
    expect(result.mode.value).toBe('sse')
    expect(FakeEventSource.last?.url).toBe('/api/runs/5/events')

    FakeEventSource.last!.emit('run', run('running', { step: 2, total_steps: 10 }))
    await flushPromises()
    expect(result.run.value?.progress.step).toBe(2)
    expect(vi.mocked(runsApi.getRunMetrics)).toHaveBeenLastCalledWith(5, 1) // after_id = last seen point
    expect(result.points.value.map((p) => p.step)).toEqual([1, 2])
    expect(result.logLines.value).toEqual(['line 1'])
    unmount()
  })

  it('closes the stream when the run ends', async () => {
    vi.mocked(runsApi.getRun).mockResolvedValue(run('running'))
    vi.mocked(runsApi.getRunMetrics).mockResolvedValue({ items: [], last_id: 0 })
    const { result, unmount } = withSetup(() => useRunEvents(ref(5)))
    await flushPromises()
    const es = FakeEventSource.last!
    es.emit('run', run('succeeded'))
    await flushPromises()
    expect(result.run.value?.status).toBe('succeeded')
    expect(result.isActive.value).toBe(false)
    expect(es.readyState).toBe(FakeEventSource.CLOSED)
    expect(result.mode.value).toBe('idle')
    unmount()
  })

  it('falls back to polling when the stream is closed by an error', async () => {
    vi.useFakeTimers()
    vi.mocked(runsApi.getRun).mockResolvedValue(run('running', { step: 1 }))
    vi.mocked(runsApi.getRunMetrics).mockResolvedValue({ items: [], last_id: 0 })
    const { result, unmount } = withSetup(() => useRunEvents(ref(5), { pollMs: 1000 }))
    await flushPromises()
    const es = FakeEventSource.last!
    es.readyState = FakeEventSource.CLOSED
    es.onerror?.()
    expect(result.mode.value).toBe('polling')

    vi.mocked(runsApi.getRun).mockResolvedValue(run('running', { step: 7 }))
    await vi.advanceTimersByTimeAsync(1000)
    expect(result.run.value?.progress.step).toBe(7)
    unmount()
  })

  it('polls when the browser has no EventSource', async () => {
    vi.stubGlobal('EventSource', undefined)
    vi.mocked(runsApi.getRun).mockResolvedValue(run('queued'))
    vi.mocked(runsApi.getRunMetrics).mockResolvedValue({ items: [], last_id: 0 })
    const { result, unmount } = withSetup(() => useRunEvents(ref(5)))
    await flushPromises()
    expect(result.mode.value).toBe('polling')
    unmount()
  })
})
