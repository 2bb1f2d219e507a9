/** A multi-turn conversation with a generation version: each message is answered as a stream (text grows piece by
 * piece), optionally by the base model too, side by side; `stop` aborts every answer in flight and keeps what came. */
import { computed, getCurrentScope, onScopeDispose, reactive, ref } from 'vue'

import { type ChatTurn, type GenerateRequest, type GenerateResult, isAbort, streamGenerate } from '@/api/generate'

/** Which model answers: the fine-tuned version, or its base model without the adapter. */
export type ChatSide = 'tuned' | 'base'
const VARIANT = { tuned: 'pytorch', base: 'base' } as const

export interface ChatAnswer {
  text: string
  streaming: boolean
  /** Stopped by the user before the model finished. */
  stopped: boolean
  error: unknown
  /** Timings and token counts, once the answer is complete. */
  result: GenerateResult | null
}

export interface ChatExchange {
  user: string
  answers: Partial<Record<ChatSide, ChatAnswer>>
}

export interface ChatOptions {
  modelId?: number
  system?: string
  temperature?: number
  top_p?: number
  max_new_tokens?: number
  /** Who answers this message (default: the fine-tuned version only). */
  sides?: ChatSide[]
}

export function useChatStream(stream: typeof streamGenerate = streamGenerate) {
  const exchanges = ref<ChatExchange[]>([])
  const busy = computed(() => exchanges.value.some((e) => Object.values(e.answers).some((a) => a?.streaming)))
  let controller: AbortController | null = null

  /** The conversation as `side` saw it: its own earlier answers (the fine-tuned one where it did not answer). A
   * message without any answer (failed) is left out: chat templates want user and assistant turns to alternate. */
  function history(side: ChatSide, upTo: number): ChatTurn[] {
    return exchanges.value.slice(0, upTo).flatMap((e): ChatTurn[] => {
      const answer = (e.answers[side] ?? e.answers.tuned)?.text
      return answer ? [{ role: 'user', content: e.user }, { role: 'assistant', content: answer }] : []
    })
  }

  async function answer(target: ChatAnswer, request: GenerateRequest, signal: AbortSignal): Promise<void> {
    try {
      target.result = await stream(request, (piece) => (target.text += piece), signal)
      if (target.result.text) target.text = target.result.text
    } catch (err) {
      if (isAbort(err)) target.stopped = true
      else target.error = err
    } finally {
      target.streaming = false
    }
  }

  /** Send one user message; resolves when every answer to it has ended (finished, failed or stopped). */
  async function send(text: string, options: ChatOptions = {}): Promise<void> {
    const content = text.trim()
    if (!content || busy.value) return
    const sides = options.sides?.length ? options.sides : (['tuned'] as ChatSide[])
    const index = exchanges.value.length
    const exchange: ChatExchange = { user: content, answers: {} }
    for (const side of sides) {
      exchange.answers[side] = reactive<ChatAnswer>({ text: '', streaming: true, stopped: false, error: null, result: null })
    }
    exchanges.value.push(exchange)
    controller = new AbortController()
    const { signal } = controller
    const shown = exchanges.value[index]! // the reactive copy: pieces written to it reach the page
    await Promise.all(
      sides.map((side) =>
        answer(
          shown.answers[side]!,
          {
            messages: [...history(side, index), { role: 'user', content }],
            system: options.system?.trim() || undefined,
            model_id: options.modelId,
            variant: VARIANT[side],
            temperature: options.temperature,
            top_p: options.top_p,
            max_new_tokens: options.max_new_tokens,
          },
          signal,
        ),
      ),
    )
  }

  function stop(): void {
    controller?.abort()
    controller = null
  }

  function clear(): void {
    stop()
    exchanges.value = []
  }

  // Leaving the page ends the answers in flight instead of leaving the server generating for nobody.
  if (getCurrentScope()) onScopeDispose(stop)

  return { exchanges, busy, send, stop, clear }
}
