/** Call `fn` every `intervalMs` after the previous call settles (never overlapping); stops with the component. */
import { getCurrentScope, onScopeDispose, ref } from 'vue'

export function usePolling(fn: () => Promise<unknown> | unknown, intervalMs: number) {
  const active = ref(false)
  let timer: ReturnType<typeof setTimeout> | undefined

  async function tick() {
    if (!active.value) return
    try {
      await fn()
    } catch {
      // A failed poll is retried on the next tick; the caller shows its own error state.
    }
    if (active.value) timer = setTimeout(tick, intervalMs)
  }

  function start(immediate = true) {
    if (active.value) return
    active.value = true
    if (immediate) void tick()
    else timer = setTimeout(tick, intervalMs)
  }

  function stop() {
    active.value = false
    if (timer) clearTimeout(timer)
    timer = undefined
  }

  if (getCurrentScope()) onScopeDispose(stop)
  return { active, start, stop }
}
