/**
 * Live jobs of every kind, one way: the server pushes `job` events (the job's public shape) over SSE whenever a job
 * changes. `useJob` follows one job (its stream ends after the job's end); `useJobList` keeps a list live over the one
 * all-jobs stream, so a page watching many jobs still holds a single connection (browsers allow about six per server).
 * Without EventSource, or when a stream is closed for good, both poll instead.
 */
import { computed, ref, shallowRef, watch, type Ref } from 'vue'

import {
  ALL_JOB_EVENTS_URL,
  getJob,
  isActiveJob,
  jobEventsUrl,
  listJobs,
  matchesQuery,
  type Job,
  type JobQuery,
} from '@/api/jobs'

import { useEventStream, type StreamMode } from './useEventStream'

/** One job, live until it ends. */
export function useJob(jobId: Ref<number | null | undefined>, options: { pollMs?: number } = {}) {
  const pollMs = options.pollMs ?? 2000
  const job = shallowRef<Job | null>(null)
  const mode = ref<StreamMode>('idle')
  const error = shallowRef<unknown>(null)
  const isActive = computed(() => isActiveJob(job.value))
  const follower = useEventStream<Job>(mode, 'job')
  let generation = 0 // bumps on every (re)connect so late answers about an old job are dropped

  function onSnapshot(snapshot: Job, gen: number) {
    if (gen !== generation || snapshot.id !== jobId.value) return
    job.value = snapshot
    error.value = null
    if (!isActiveJob(snapshot)) follower.close() // the server ends the stream too; no reconnect wanted
  }

  function startPolling(id: number, gen: number) {
    follower.poll(async () => {
      if (gen !== generation) return false
      try {
        onSnapshot(await getJob(id), gen)
      } catch (err) {
        if (gen === generation) error.value = err
      }
      return gen === generation && isActive.value
    }, pollMs)
  }

  async function connect() {
    generation += 1
    const gen = generation
    follower.close()
    job.value = null
    const id = jobId.value
    if (!id) return
    try {
      onSnapshot(await getJob(id), gen)
    } catch (err) {
      if (gen === generation) error.value = err
      return
    }
    if (gen !== generation || !isActive.value) return
    const opened = follower.open(
      jobEventsUrl(id),
      (snap) => onSnapshot(snap, gen),
      () => gen === generation && isActive.value && startPolling(id, gen),
    )
    if (!opened) startPolling(id, gen)
  }

  watch(jobId, () => void connect(), { immediate: true })
  return { job, mode, error, isActive, reconnect: connect }
}

/** A list of jobs (newest first) matching `query`, live: new jobs appear, running ones move, ended ones settle.
 * `onEnd` hears of every job that ends while watched, even one whose start was never seen (it ran between two
 * updates), so a page can re-read what the job changed. */
export function useJobList(query: () => JobQuery, options: { pollMs?: number; onEnd?: (job: Job) => void } = {}) {
  const pollMs = options.pollMs ?? 5000
  const jobs = shallowRef<Job[]>([])
  const loading = ref(false)
  const mode = ref<StreamMode>('idle')
  const error = shallowRef<unknown>(null)
  const active = computed(() => jobs.value.filter(isActiveJob))
  const follower = useEventStream<Job>(mode, 'job')
  let generation = 0

  /** Tell `onEnd` about jobs that are over now but were running (or unknown) before. */
  function noticeEnds(before: Job[], now: Job[]) {
    if (!options.onEnd) return
    const was = new Map(before.map((j) => [j.id, j]))
    for (const job of now) {
      const old = was.get(job.id)
      if (!isActiveJob(job) && (old ? isActiveJob(old) : true)) options.onEnd(job)
    }
  }

  function merge(snapshot: Job, gen: number) {
    const q = query()
    if (gen !== generation || !matchesQuery(snapshot, q)) return
    const before = jobs.value
    const rest = before.filter((j) => j.id !== snapshot.id)
    jobs.value = [snapshot, ...rest].sort((a, b) => b.id - a.id).slice(0, q.limit ?? 200)
    noticeEnds(before, [snapshot])
  }

  async function load(gen: number, first = false): Promise<void> {
    try {
      const list = await listJobs(query())
      if (gen !== generation) return
      const before = jobs.value
      jobs.value = list
      if (!first) noticeEnds(before, list)
      error.value = null
    } catch (err) {
      if (gen === generation) error.value = err
    }
  }

  async function connect() {
    generation += 1
    const gen = generation
    follower.close()
    loading.value = true
    await load(gen, true)
    if (gen !== generation) return
    loading.value = false
    const poll = () =>
      follower.poll(async () => {
        await load(gen)
        return gen === generation
      }, pollMs)
    const opened = follower.open(
      ALL_JOB_EVENTS_URL,
      (snap) => merge(snap, gen),
      () => gen === generation && poll(),
    )
    if (!opened) poll()
  }

  watch(() => JSON.stringify(query()), () => void connect(), { immediate: true })
  return { jobs, active, loading, mode, error, reload: connect }
}
