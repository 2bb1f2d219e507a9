import { describe, expect, it } from 'vitest'

import type { GenerationReport as Report, TokenLengths, ValidationReport } from '@/api/datasets'
import { mountWith } from '@/test/setup'

import GenerationReport from './GenerationReport.vue'

const stats = (mean: number, max: number) => ({ min: 1, mean, median: mean, p95: max, max, histogram: [] })

function report(tokenLengths?: TokenLengths): ValidationReport {
  const generation: Report = {
    layout: 'alpaca', layouts: { alpaca: 20 }, conversations: 20, turns: 20, multi_turn: 0, turns_per_conversation: { 1: 20 },
    with_system_prompt: 0, prompt_length: stats(12, 30), response_length: stats(40, 900), empty_responses: 0, duplicates: 0,
    trailing_user_turns_dropped: 0, refused: [], token_lengths: tokenLengths,
  }
  return { generation } as unknown as ValidationReport
}

describe('GenerationReport', () => {
  it('shows token lengths under the default tokenizer and the share training would cut', () => {
    const w = mountWith(GenerationReport, {
      props: { report: report({ available: true, tokenizer: 'Gemma 3 270M', prompt: stats(9, 20), response: stats(30, 600),
        conversation: stats(50, 630), max_length: 184, truncated_share: 0.05, truncated: 1, cap: 512 }) },
    })
    expect(w.find('[data-test=token-lengths]').text()).toContain('Gemma 3 270M')
    expect(w.find('[data-test=token-truncated]').text()).toContain('5')
    expect(w.find('[data-test=token-truncated]').text()).toContain('184')
    expect(w.find('[data-test=token-lengths-missing]').exists()).toBe(false)
  })

  it('says lengths are in characters while the default model is not prepared', () => {
    const w = mountWith(GenerationReport, {
      props: { report: report({ available: false, tokenizer: 'Gemma 3 270M', reason: 'not prepared' }) },
    })
    expect(w.find('[data-test=token-lengths]').exists()).toBe(false)
    expect(w.find('[data-test=token-lengths-missing]').text()).toContain('Gemma 3 270M')
  })
})
