/**
 * Live state of one training run: a snapshot from the API, then updates pushed over SSE
 * (`/api/runs/{id}/events`); when the stream is unavailable or drops, it falls back to polling.
 */
import { computed, getCurrentScope, onScopeDispose, ref, shallowRef, watch, type Ref } from 'vue'

import { ACTIVE_STATUSES, getRun, getRunLogs, getRunMetrics, runEventsUrl, type MetricPoint, type Run } from '@/api/runs'

const EVENT_NAMES = ['message', 'run', 'status', 'progress', 'metric', 'metrics', 'log', 'logs', 'end', 'done']
const MAX_LOG_LINES = 500

export type RunEventsMode = 'idle' | 'sse' | 'polling'

type Json = Record<string, unknown>

function isRun(v: unknown): v is Run {
  return !!v && typeof v === 'object' && 'id' in v && 'status' in v
}

function isPoint(v: unknown): v is MetricPoint {
  return !!v && typeof v === 'object' && 'kind' in v && 'step' in v && 'values' in v
}

export function useRunEvents(runId: Ref<number | null | undefined>, options: { pollMs?: number } = {}) {
  const pollMs = options.pollMs ?? 2000
  const run = shallowRef<Run | null>(null)
  const points = ref<MetricPoint[]>([])
  const logLines = ref<string[]>([])
  const mode = ref<RunEventsMode>('idle')
  const error = shallowRef<unknown>(null)
  const isActive = computed(() => !!run.value && ACTIVE_STATUSES.includes(run.value.status))

  let source: EventSource | null = null
  let pollTimer: ReturnType<typeof setTimeout> | undefined
  let generation = 0 // bumps on every (re)connect so late answers for an old run are dropped

  function addPoints(items: MetricPoint[]) {
    if (!items.length) return
    const seen = new Set(points.value.map((p) => `${p.kind}:${p.step}:${p.created_at ?? ''}`))
    const fresh = items.filter((p) => !seen.has(`${p.kind}:${p.step}:${p.created_at ?? ''}`))
    if (fresh.length) points.value = [...points.value, ...fresh].sort((a, b) => a.step - b.step)
  }

  function addLogs(text: string | string[]) {
    const lines = Array.isArray(text) ? text : text.split('\n')
    const next = [...logLines.value, ...lines.filter((l) => l !== '')]
    logLines.value = next.slice(-MAX_LOG_LINES)
  }

  /** Apply one pushed event, whatever its name: the payload's shape says what it carries. */
  function apply(name: string, payload: unknown) {
    if (isRun(payload)) run.value = payload
    else if (isPoint(payload)) addPoints([payload])
    else if (Array.isArray(payload) && payload.every(isPoint)) addPoints(payload)
    else if (payload && typeof payload === 'object') {
      const obj = payload as Json
      if (isRun(obj.run)) run.value = obj.run
      if (obj.progress && typeof obj.progress === 'object' && run.value) {
        run.value = { ...run.value, progress: obj.progress as Run['progress'] }
      }
      if (typeof obj.status === 'string' && run.value && !isRun(obj.run)) {
        run.value = { ...run.value, status: obj.status as Run['status'] }
      }
      if (isPoint(obj.metric)) addPoints([obj.metric])
      if (Array.isArray(obj.metrics)) addPoints(obj.metrics.filter(isPoint))
      if (Array.isArray(obj.points)) addPoints(obj.points.filter(isPoint))
      if (typeof obj.line === 'string') addLogs(obj.line)
      if (Array.isArray(obj.lines)) addLogs(obj.lines.map(String))
      if (typeof obj.text === 'string' && (name === 'log' || name === 'logs')) addLogs(obj.text)
    } else if (typeof payload === 'string' && (name === 'log' || name === 'logs')) addLogs(payload)
    if ((name === 'end' || name === 'done') || (run.value && !ACTIVE_STATUSES.includes(run.value.status))) {
      // The run is over: one last snapshot picks up the model version and final metrics.
      closeStream()
      if (runId.value) void refresh(generation)
    }
  }

  async function refresh(gen: number) {
    const id = runId.value
    if (!id) return
    try {
      const [r, m, logs] = await Promise.all([getRun(id), getRunMetrics(id), getRunLogs(id).catch(() => '')])
      if (gen !== generation) return
      run.value = r
      addPoints(m)
      if (logs) logLines.value = logs.split('\n').filter((l) => l !== '').slice(-MAX_LOG_LINES)
      error.value = null
    } catch (err) {
      if (gen === generation) error.value = err
    }
  }

  function closeStream() {
    source?.close()
    source = null
    if (pollTimer) clearTimeout(pollTimer)
    pollTimer = undefined
    if (mode.value !== 'idle') mode.value = 'idle'
  }

  function startPolling(gen: number) {
    closeStream()
    mode.value = 'polling'
    const tick = async () => {
      if (gen !== generation) return
      await refresh(gen)
      if (gen === generation && isActive.value) pollTimer = setTimeout(tick, pollMs)
      else if (gen === generation) mode.value = 'idle'
    }
    pollTimer = setTimeout(tick, pollMs)
  }

  function openStream(id: number, gen: number) {
    if (typeof EventSource === 'undefined') return startPolling(gen)
    const es = new EventSource(runEventsUrl(id))
    source = es
    mode.value = 'sse'
    for (const name of EVENT_NAMES) {
      es.addEventListener(name, (ev) => {
        if (gen !== generation) return
        const raw = (ev as MessageEvent<string>).data
        let payload: unknown = raw
        try {
          payload = JSON.parse(raw)
        } catch {
          // plain-text event (a log line)
        }
        apply(name, payload)
      })
    }
    es.onerror = () => {
      if (gen !== generation) return
      // The browser retries on its own while CONNECTING; a CLOSED stream (404, proxy cut) means poll instead.
      if (es.readyState === EventSource.CLOSED && isActive.value) startPolling(gen)
    }
  }

  async function connect() {
    generation += 1
    const gen = generation
    closeStream()
    points.value = []
    logLines.value = []
    run.value = null
    const id = runId.value
    if (!id) return
    await refresh(gen)
    if (gen !== generation || !isActive.value) return
    openStream(id, gen)
  }

  watch(runId, () => void connect(), { immediate: true })
  if (getCurrentScope()) onScopeDispose(() => {
    generation += 1
    closeStream()
  })

  return { run, points, logLines, mode, error, isActive, reconnect: connect }
}
