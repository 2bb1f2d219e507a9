/**
 * Live state of one training run. The server pushes a `run` event (the run's snapshot) over SSE whenever it changes;
 * each push also pulls the metric points added since the last one (`after_id`) and, now and then, the log tail.
 * Without EventSource, or when the stream closes, it polls instead.
 */
import { computed, getCurrentScope, onScopeDispose, ref, shallowRef, watch, type Ref } from 'vue'

import {
  ACTIVE_STATUSES,
  getRun,
  getRunLogs,
  getRunMetrics,
  runEventsUrl,
  type MetricPoint,
  type Run,
} from '@/api/runs'

import { useEventStream, type StreamMode } from './useEventStream'

export type RunEventsMode = StreamMode

const LOG_EVERY_MS = 3000

export function useRunEvents(runId: Ref<number | null | undefined>, options: { pollMs?: number } = {}) {
  const pollMs = options.pollMs ?? 2000
  const run = shallowRef<Run | null>(null)
  const points = shallowRef<MetricPoint[]>([])
  const logLines = shallowRef<string[]>([])
  const mode = ref<RunEventsMode>('idle')
  const error = shallowRef<unknown>(null)
  const isActive = computed(() => !!run.value && ACTIVE_STATUSES.includes(run.value.status))

  const stream = useEventStream<Run>(mode, 'run')
  let generation = 0 // bumps on every (re)connect so late answers about an old run are dropped
  let lastId = 0
  let lastLogAt = 0
  let pulling: Promise<void> | null = null
  let pullAgain = false

  /** Fetch metric points newer than the last seen, and the log tail when due (or `force`). */
  async function pullExtras(id: number, gen: number, force = false): Promise<void> {
    if (pulling) {
      pullAgain = true
      return pulling
    }
    pulling = (async () => {
      try {
        const m = await getRunMetrics(id, lastId)
        if (gen !== generation) return
        if (m.items.length) points.value = [...points.value, ...m.items]
        lastId = Math.max(lastId, m.last_id)
        if (force || Date.now() - lastLogAt >= LOG_EVERY_MS) {
          lastLogAt = Date.now()
          const lines = await getRunLogs(id)
          if (gen === generation) logLines.value = lines
        }
        error.value = null
      } catch (err) {
        if (gen === generation) error.value = err
      }
    })()
    try {
      await pulling
    } finally {
      pulling = null
    }
    if (pullAgain && gen === generation) {
      pullAgain = false
      await pullExtras(id, gen, force)
    }
  }

  function onSnapshot(snapshot: Run, gen: number) {
    if (gen !== generation) return
    const wasActive = isActive.value
    run.value = snapshot
    const ended = !ACTIVE_STATUSES.includes(snapshot.status)
    if (ended) closeStream()
    void pullExtras(snapshot.id, gen, ended && wasActive)
  }

  function closeStream() {
    stream.close()
  }

  function startPolling(id: number, gen: number) {
    stream.poll(async () => {
      if (gen !== generation) return false
      try {
        onSnapshot(await getRun(id), gen)
      } catch (err) {
        if (gen === generation) error.value = err
      }
      return gen === generation && isActive.value
    }, pollMs)
  }

  function openStream(id: number, gen: number) {
    const opened = stream.open(
      runEventsUrl(id),
      (snapshot) => onSnapshot(snapshot, gen),
      () => gen === generation && isActive.value && startPolling(id, gen),
    )
    if (!opened) startPolling(id, gen)
  }

  async function connect() {
    generation += 1
    const gen = generation
    closeStream()
    run.value = null
    points.value = []
    logLines.value = []
    lastId = 0
    lastLogAt = 0
    const id = runId.value
    if (!id) return
    try {
      run.value = await getRun(id)
    } catch (err) {
      if (gen === generation) error.value = err
      return
    }
    if (gen !== generation) return
    await pullExtras(id, gen, true)
    if (gen === generation && isActive.value) openStream(id, gen)
  }

  watch(runId, () => void connect(), { immediate: true })
  if (getCurrentScope()) {
    onScopeDispose(() => {
      generation += 1
      closeStream()
    })
  }

  return { run, points, logLines, mode, error, isActive, reconnect: connect }
}
