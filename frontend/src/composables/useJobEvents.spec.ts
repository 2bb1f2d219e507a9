import { flushPromises } from '@vue/test-utils'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { ref } from 'vue'

import type { Job } from '@/api/jobs'
import * as jobsApi from '@/api/jobs'
import { FakeEventSource } from '@/test/eventSource'
import { withSetup } from '@/test/setup'

import { useJob, useJobList } from './useJobEvents'

vi.mock('@/api/jobs', async (importOriginal) => ({
  ...(await importOriginal<typeof import('@/api/jobs')>()),
  getJob: vi.fn(),
  listJobs: vi.fn(),
}))

function job(id: number, status: Job['status'], extra: Partial<Job> = {}): Job {
  return {
    id,
    kind: 'train',
    status,
    subject: 'r',
    params: { run_id: id * 10 },
    progress: { done: 0, total: 0, message: '', fraction: null, eta_s: null },
    ...extra,
  } as Job
}

beforeEach(() => {
  vi.stubGlobal('EventSource', FakeEventSource)
  FakeEventSource.opened = []
})
afterEach(() => {
  vi.unstubAllGlobals()
  vi.useRealTimers()
  vi.resetAllMocks()
})

describe('useJob', () => {
  it('follows pushed job events and closes the stream at the terminal status', async () => {
    vi.mocked(jobsApi.getJob).mockResolvedValue(job(5, 'queued'))
    const { result, unmount } = withSetup(() => useJob(ref(5)))
    await flushPromises()
    expect(result.mode.value).toBe('sse')
    const es = FakeEventSource.last!
    expect(es.url).toBe('/api/jobs/5/events')

    es.emit('job', job(5, 'running', { progress: { done: 3, total: 10, message: 'training', fraction: 0.3, eta_s: 12 } }))
    await flushPromises()
    expect(result.job.value?.progress.fraction).toBe(0.3)
    expect(result.isActive.value).toBe(true)

    es.emit('job', job(5, 'succeeded'))
    await flushPromises()
    expect(result.job.value?.status).toBe('succeeded')
    expect(es.readyState).toBe(FakeEventSource.CLOSED) // no reconnect after the server ends the stream
    expect(result.mode.value).toBe('idle')
    unmount()
  })

  it('opens no stream for a job that has already ended', async () => {
    vi.mocked(jobsApi.getJob).mockResolvedValue(job(5, 'failed', { error_message: 'boom' }))
    const { result, unmount } = withSetup(() => useJob(ref(5)))
    await flushPromises()
    expect(result.job.value?.error_message).toBe('boom')
    expect(FakeEventSource.opened).toEqual([])
    unmount()
  })

  it('polls when the stream is closed for good, until the job ends', async () => {
    vi.useFakeTimers()
    vi.mocked(jobsApi.getJob).mockResolvedValue(job(5, 'running'))
    const { result, unmount } = withSetup(() => useJob(ref(5), { pollMs: 1000 }))
    await flushPromises()
    FakeEventSource.last!.fail()
    expect(result.mode.value).toBe('polling')

    vi.mocked(jobsApi.getJob).mockResolvedValue(job(5, 'succeeded'))
    await vi.advanceTimersByTimeAsync(1000)
    expect(result.job.value?.status).toBe('succeeded')
    expect(result.mode.value).toBe('idle')
    await vi.advanceTimersByTimeAsync(5000)
    expect(jobsApi.getJob).toHaveBeenCalledTimes(2) // the first load and one poll: no polling after the end
    unmount()
  })

  it('drops a late event of the previous job when the id changes', async () => {
    vi.mocked(jobsApi.getJob).mockImplementation(async (id) => job(id, 'running'))
    const id = ref(5)
    const { result, unmount } = withSetup(() => useJob(id))
    await flushPromises()
    const first = FakeEventSource.last!
    id.value = 6
    await flushPromises()
    first.emit('job', job(5, 'succeeded'))
    expect(result.job.value?.id).toBe(6)
    expect(FakeEventSource.last!.url).toBe('/api/jobs/6/events')
    unmount()
  })
})

describe('useJobList', () => {
  it('loads the list, then adds new jobs at the top and updates changed ones from the one stream', async () => {
    vi.mocked(jobsApi.listJobs).mockResolvedValue([job(2, 'running'), job(1, 'succeeded')])
    const { result, unmount } = withSetup(() => useJobList(() => ({})))
    await flushPromises()
    expect(FakeEventSource.opened).toEqual(['/api/jobs/events'])
    expect(result.active.value.map((j) => j.id)).toEqual([2])

    const es = FakeEventSource.last!
    es.emit('job', job(3, 'queued', { kind: 'batch_predict', params: { batch_job_id: 1 } }))
    es.emit('job', job(2, 'succeeded'))
    await flushPromises()
    expect(result.jobs.value.map((j) => [j.id, j.status])).toEqual([
      [3, 'queued'],
      [2, 'succeeded'],
      [1, 'succeeded'],
    ])
    expect(result.active.value.map((j) => j.id)).toEqual([3])
    unmount()
  })

  it('keeps only the jobs its query names (kind and what they belong to)', async () => {
    const exportOf = (id: number, version: number) => job(id, 'running', { kind: 'export', params: { version_id: version, variant: 'onnx' } })
    vi.mocked(jobsApi.listJobs).mockResolvedValue([exportOf(1, 7)])
    const { result, unmount } = withSetup(() => useJobList(() => ({ kind: 'export', belongsTo: 7 })))
    await flushPromises()
    expect(jobsApi.listJobs).toHaveBeenCalledWith({ kind: 'export', belongsTo: 7 })
    const es = FakeEventSource.last!
    es.emit('job', exportOf(2, 8)) // another version's export
    es.emit('job', job(3, 'running')) // a training job
    es.emit('job', exportOf(4, 7))
    await flushPromises()
    expect(result.jobs.value.map((j) => j.id)).toEqual([4, 1])
    unmount()
  })

  it('tells onEnd about each job that ends while watched, even one whose start it never saw', async () => {
    vi.mocked(jobsApi.listJobs).mockResolvedValue([job(2, 'running'), job(1, 'failed')])
    const ended: number[] = []
    const { unmount } = withSetup(() => useJobList(() => ({}), { onEnd: (j) => ended.push(j.id) }))
    await flushPromises()
    expect(ended).toEqual([]) // the first list is history, not news
    const es = FakeEventSource.last!
    es.emit('job', job(2, 'running', { duration_s: 3 }))
    es.emit('job', job(2, 'succeeded'))
    es.emit('job', job(3, 'succeeded')) // queued, ran and ended between two updates
    es.emit('job', job(3, 'succeeded'))
    await flushPromises()
    expect(ended).toEqual([2, 3])
    unmount()
  })

  it('reloads when its query changes and polls without EventSource', async () => {
    vi.useFakeTimers()
    vi.stubGlobal('EventSource', undefined)
    vi.mocked(jobsApi.listJobs).mockResolvedValue([job(1, 'running')])
    const kind = ref<Job['kind'] | undefined>(undefined)
    const { result, unmount } = withSetup(() => useJobList(() => ({ kind: kind.value }), { pollMs: 1000 }))
    await flushPromises()
    expect(result.mode.value).toBe('polling')
    vi.mocked(jobsApi.listJobs).mockResolvedValue([job(1, 'succeeded')])
    await vi.advanceTimersByTimeAsync(1000)
    expect(result.jobs.value[0]?.status).toBe('succeeded')

    kind.value = 'export'
    vi.mocked(jobsApi.listJobs).mockResolvedValue([])
    await vi.advanceTimersByTimeAsync(0)
    await flushPromises()
    expect(jobsApi.listJobs).toHaveBeenLastCalledWith({ kind: 'export' })
    expect(result.jobs.value).toEqual([])
    unmount()
  })
})
