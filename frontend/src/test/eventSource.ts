/** A stand-in for the browser's EventSource that a test drives by hand (install with vi.stubGlobal). */
export class FakeEventSource {
  static CONNECTING = 0
  static OPEN = 1
  static CLOSED = 2
  static last: FakeEventSource | null = null
  static opened: string[] = []
  readyState = 1
  onerror: (() => void) | null = null
  listeners: Record<string, ((ev: MessageEvent) => void)[]> = {}
  constructor(public url: string) {
    FakeEventSource.last = this
    FakeEventSource.opened.push(url)
  }
  addEventListener(name: string, fn: (ev: MessageEvent) => void) {
    ;(this.listeners[name] ??= []).push(fn)
  }
  emit(name: string, data: unknown) {
    for (const fn of this.listeners[name] ?? []) fn(new MessageEvent(name, { data: JSON.stringify(data) }))
  }
  /** The server or a proxy closed the stream for good. */
  fail() {
    this.readyState = FakeEventSource.CLOSED
    this.onerror?.()
  }
  close() {
    this.readyState = 2
  }
}
