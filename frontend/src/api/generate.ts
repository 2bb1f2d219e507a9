/** Text generation: the chat models (`GET /v1/models`) and `POST /api/generate`, answered whole or streamed as
 * Server-Sent Events (`data: {"delta": ...}` pieces, then `data: {"done": true, ...}` with the timings). Streams use
 * fetch + ReadableStream: EventSource cannot POST a body, and Axios in the browser cannot read a body as it arrives. */
import { ApiError, http, redirectToLogin } from './http'

export type ChatRole = 'system' | 'user' | 'assistant'
export interface ChatTurn {
  role: ChatRole
  content: string
}

/** pytorch: the fine-tuned version; base: its base model without the adapter (side-by-side comparison). */
export type GenerateVariant = 'pytorch' | 'base'

export interface GenerateRequest {
  /** The conversation so far, the last turn from the user. */
  messages: ChatTurn[]
  system?: string
  /** Default: the newest generation version. */
  model_id?: number
  variant?: GenerateVariant
  /** 0 = greedy. */
  temperature?: number
  top_p?: number
  max_new_tokens?: number
  seed?: number
}

export interface GenerateResult {
  model_id: number
  model_name: string
  variant: string
  text: string
  /** stop: the model ended its turn; length: max_new_tokens was reached. */
  finish_reason: 'stop' | 'length' | string
  usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number }
  /** The conversation was cut from the start to fit the model's context. */
  truncated: boolean
  latency_ms: number
  first_token_ms: number | null
  tokens_per_s: number | null
  /** Set when this request waited for the model to load. */
  load_ms: number | null
}

/** One chat-capable version as `GET /v1/models` lists it (id = version id), newest first. */
export interface ChatModel {
  id: number
  name: string
  base_model: string
  status: string
  created: number
}

export async function listChatModels(): Promise<ChatModel[]> {
  const { data } = await http.get<{ data: (Omit<ChatModel, 'id'> & { id: string })[] }>('/v1/models')
  return data.data.map((m) => ({ ...m, id: Number(m.id) }))
}

/** The whole answer in one JSON response. */
export async function generate(request: GenerateRequest): Promise<GenerateResult> {
  const { data } = await http.post<GenerateResult>('/api/generate', { ...request, stream: false }, { timeout: 0 })
  return data
}

/** The `data:` payloads of an SSE body, one per event, as they arrive (chunks may split lines and characters). */
export async function* sseData(body: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const reader = body.getReader()
  const decoder = new TextDecoder()
  let buffer = ''
  try {
    for (;;) {
      const { value, done } = await reader.read()
      buffer += done ? decoder.decode() : decoder.decode(value, { stream: true })
      const events = buffer.replace(/\r\n?/g, '\n').split('\n\n')
      buffer = done ? '' : (events.pop() ?? '')
      for (const event of events) {
        const data = event
          .split('\n')
          .filter((line) => line.startsWith('data:'))
          .map((line) => line.slice(line.startsWith('data: ') ? 6 : 5))
        if (data.length) yield data.join('\n')
      }
      if (done) return
    }
  } finally {
    reader.releaseLock()
  }
}

interface StreamEvent extends Partial<GenerateResult> {
  delta?: string
  done?: boolean
}

async function errorFrom(response: Response): Promise<ApiError> {
  try {
    const body = (await response.json()) as { code?: unknown; message?: unknown; details?: unknown }
    if (body && typeof body.code === 'string') {
      const details = body.details && typeof body.details === 'object' ? (body.details as Record<string, unknown>) : {}
      return new ApiError(body.code, String(body.message ?? ''), response.status, details)
    }
  } catch {
    // not a JSON error body: fall through to the status code
  }
  return new ApiError(`http_${response.status}`, response.statusText || `HTTP ${response.status}`, response.status)
}

export function isAbort(err: unknown): boolean {
  return err instanceof DOMException ? err.name === 'AbortError' : (err as { name?: string } | null)?.name === 'AbortError'
}

/**
 * Stream one answer: `onDelta` gets each text piece as it arrives; resolves with the final result (text, timings).
 * Rejects with an ApiError (server refusal, network failure, a stream cut before its end), or with the AbortError
 * when `signal` aborts.
 */
export async function streamGenerate(
  request: GenerateRequest,
  onDelta: (piece: string) => void,
  signal?: AbortSignal,
): Promise<GenerateResult> {
  let response: Response
  try {
    response = await fetch('/api/generate', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'text/event-stream' },
      body: JSON.stringify({ ...request, stream: true }),
      signal,
    })
  } catch (err) {
    if (isAbort(err)) throw err
    throw new ApiError('network_error', err instanceof Error ? err.message : 'The server cannot be reached.')
  }
  if (!response.ok || !response.body) {
    const error = response.ok ? new ApiError('stream_interrupted', 'The answer stream had no body.') : await errorFrom(response)
    redirectToLogin(error)
    throw error
  }
  for await (const data of sseData(response.body)) {
    let event: StreamEvent
    try {
      event = JSON.parse(data) as StreamEvent
    } catch {
      continue // a comment or keep-alive line
    }
    if (typeof event.delta === 'string') onDelta(event.delta)
    else if (event.done) return event as GenerateResult
  }
  throw new ApiError('stream_interrupted', 'The answer stream ended before it was complete.')
}
