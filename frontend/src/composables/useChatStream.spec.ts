import { flushPromises } from '@vue/test-utils'
import { afterEach, describe, expect, it, vi } from 'vitest'

import { sseData } from '@/api/generate'
import { ApiError } from '@/api/http'

import { useChatStream } from './useChatStream'

const encoder = new TextEncoder()

/** A response body the test writes to by hand; aborting the request errors it as a real fetch body does. */
function fakeBody(signal?: AbortSignal | null) {
  let controller!: ReadableStreamDefaultController<Uint8Array>
  const body = new ReadableStream<Uint8Array>({ start: (c) => void (controller = c) })
  signal?.addEventListener('abort', () => controller.error(new DOMException('The user aborted a request.', 'AbortError')))
  return {
    body,
    write: (text: string) => controller.enqueue(encoder.encode(text)),
    writeBytes: (bytes: Uint8Array) => controller.enqueue(bytes),
    end: () => controller.close(),
  }
}

interface Call {
  request: Record<string, unknown>
  signal: AbortSignal
  stream: ReturnType<typeof fakeBody>
}

/** fetch stand-in: every call gets its own writable body; the test reads what was sent from `calls`. */
function stubFetch(): Call[] {
  const calls: Call[] = []
  vi.stubGlobal(
    'fetch',
    vi.fn(async (_url: string, init: RequestInit) => {
      const stream = fakeBody(init.signal)
      calls.push({ request: JSON.parse(String(init.body)), signal: init.signal!, stream })
      return { ok: true, status: 200, body: stream.body } as unknown as Response
    }),
  )
  return calls
}

const done = (text: string) =>
  `data: ${JSON.stringify({ done: true, text, model_id: 3, model_name: 'v3', variant: 'pytorch', finish_reason: 'stop', usage: { prompt_tokens: 5, completion_tokens: 4, total_tokens: 9 }, truncated: false, latency_ms: 900, first_token_ms: 120.5, tokens_per_s: 18.2, load_ms: null })}\n\n`

afterEach(() => vi.unstubAllGlobals())

describe('sseData', () => {
  it('yields one payload per event even when chunks split lines and multi-byte characters', async () => {
    const s = fakeBody()
    const bytes = encoder.encode('data: {"delta": "你好"}\n\ndata: {"delta": "世界"}\r\n\r\n: keep-alive\n\ndata: [DONE]\n\n')
    const got: string[] = []
    const reading = (async () => {
      for await (const d of sseData(s.body)) got.push(d)
    })()
    // Byte 9 falls inside "delta", 18 inside 你 (3 bytes in UTF-8), 26 between the two newlines ending the event.
    const cuts = [0, 9, 18, 26, 40, bytes.length]
    for (let i = 1; i < cuts.length; i++) s.writeBytes(bytes.slice(cuts[i - 1], cuts[i]))
    s.end()
    await reading
    expect(got).toEqual(['{"delta": "你好"}', '{"delta": "世界"}', '[DONE]'])
  })
})

describe('useChatStream', () => {
  it('accumulates streamed deltas into the answer, then keeps the final text and timings', async () => {
    const calls = stubFetch()
    const chat = useChatStream()
    const sent = chat.send('  你好  ', { modelId: 3, temperature: 0.2, top_p: 0.8, max_new_tokens: 64, system: '你是助手' })
    await flushPromises()
    expect(calls[0]!.request).toMatchObject({
      stream: true,
      model_id: 3,
      variant: 'pytorch',
      temperature: 0.2,
      top_p: 0.8,
      max_new_tokens: 64,
      system: '你是助手',
      messages: [{ role: 'user', content: '你好' }],
    })
    const answer = () => chat.exchanges.value[0]!.answers.tuned!
    expect(chat.busy.value).toBe(true)

    calls[0]!.stream.write('data: {"delta": "你"}\n\ndata: {"del')
    await flushPromises()
    expect(answer().text).toBe('你')
    calls[0]!.stream.write('ta": "好！"}\n\n')
    await flushPromises()
    expect(answer().text).toBe('你好！')

    calls[0]!.stream.write(done('你好！我在。'))
    calls[0]!.stream.end()
    await sent
    expect(answer()).toMatchObject({ text: '你好！我在。', streaming: false, stopped: false, error: null })
    expect(answer().result).toMatchObject({ first_token_ms: 120.5, tokens_per_s: 18.2 })
    expect(chat.busy.value).toBe(false)
  })

  it('stop aborts the request and keeps the text received so far', async () => {
    const calls = stubFetch()
    const chat = useChatStream()
    const sent = chat.send('讲个故事')
    await flushPromises()
    calls[0]!.stream.write('data: {"delta": "从前"}\n\n')
    await flushPromises()

    chat.stop()
    await sent
    expect(calls[0]!.signal.aborted).toBe(true)
    expect(chat.exchanges.value[0]!.answers.tuned).toMatchObject({ text: '从前', streaming: false, stopped: true, error: null })
    expect(chat.busy.value).toBe(false)
  })

  it('side by side: the base model answers the same message, and each side continues its own conversation', async () => {
    const calls = stubFetch()
    const chat = useChatStream()
    const first = chat.send('一', { sides: ['tuned', 'base'] })
    await flushPromises()
    expect(calls.map((c) => c.request.variant)).toEqual(['pytorch', 'base'])
    calls[0]!.stream.write(done('微调答'))
    calls[0]!.stream.end()
    calls[1]!.stream.write(done('基座答'))
    calls[1]!.stream.end()
    await first

    const second = chat.send('二', { sides: ['tuned', 'base'] })
    await flushPromises()
    expect(calls[2]!.request.messages).toEqual([
      { role: 'user', content: '一' },
      { role: 'assistant', content: '微调答' },
      { role: 'user', content: '二' },
    ])
    expect((calls[3]!.request.messages as { content: string }[])[1]!.content).toBe('基座答')
    chat.stop()
    await second
  })

  it('a refusal from the server becomes the answer error; a stream cut short is an error too', async () => {
    vi.stubGlobal(
      'fetch',
      vi.fn(async () => ({ ok: false, status: 404, statusText: 'Not Found', json: async () => ({ code: 'no_chat_model', message: 'No generation model exists yet.' }) }) as unknown as Response),
    )
    const chat = useChatStream()
    await chat.send('你好')
    const error = chat.exchanges.value[0]!.answers.tuned!.error
    expect(error).toBeInstanceOf(ApiError)
    expect((error as ApiError).code).toBe('no_chat_model')

    const calls = stubFetch()
    const sent = chat.send('再试')
    await flushPromises()
    calls[0]!.stream.write('data: {"delta": "半"}\n\n')
    calls[0]!.stream.end()
    await sent
    expect((chat.exchanges.value[1]!.answers.tuned!.error as ApiError).code).toBe('stream_interrupted')
    // The failed first message is left out of the history: turns keep alternating.
    expect(calls[0]!.request.messages).toEqual([{ role: 'user', content: '再试' }])
  })
})
