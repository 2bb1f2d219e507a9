/**
 * Follow snapshots one way for every live page (runs, jobs): a server-sent event stream of named events carrying
 * JSON snapshots, or a poll loop when the browser has no EventSource or the stream is closed for good. One stream or
 * one loop at a time; both end with the component.
 */
import { getCurrentScope, onScopeDispose, type Ref } from 'vue'

export type StreamMode = 'idle' | 'sse' | 'polling'

export function useEventStream<T>(mode: Ref<StreamMode>, event: string) {
  let source: EventSource | null = null
  let timer: ReturnType<typeof setTimeout> | undefined
  let stopped = false

  function close() {
    source?.close()
    source = null
    if (timer) clearTimeout(timer)
    timer = undefined
    mode.value = 'idle'
  }

  /** Open the stream; false when this browser has no EventSource (the caller polls). */
  function open(url: string, onSnapshot: (snapshot: T) => void, onClosed: () => void): boolean {
    close()
    if (typeof EventSource === 'undefined') return false
    const es = new EventSource(url)
    source = es
    mode.value = 'sse'
    es.addEventListener(event, (ev) => {
      try {
        onSnapshot(JSON.parse((ev as MessageEvent<string>).data) as T)
      } catch {
        // a malformed event is skipped; the next snapshot supersedes it
      }
    })
    es.onerror = () => {
      // The browser reconnects by itself while CONNECTING; CLOSED (404, proxy cut) means the caller polls instead.
      if (source === es && es.readyState === EventSource.CLOSED) onClosed()
    }
    return true
  }

  /** Call `tick` every `intervalMs` while it answers true. */
  function poll(tick: () => Promise<boolean>, intervalMs: number) {
    close()
    mode.value = 'polling'
    const step = async () => {
      let again = true
      try {
        again = await tick()
      } catch {
        // retried next time; the caller shows its own error
      }
      if (stopped || mode.value !== 'polling') return
      if (again) timer = setTimeout(step, intervalMs)
      else mode.value = 'idle'
    }
    timer = setTimeout(step, intervalMs)
  }

  if (getCurrentScope()) {
    onScopeDispose(() => {
      stopped = true
      close()
    })
  }
  return { open, poll, close }
}
