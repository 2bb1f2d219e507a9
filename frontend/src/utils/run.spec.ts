import { describe, expect, it } from 'vitest'

import type { Run } from '@/api/runs'

import { downloadPercent, runPercent } from './run'

const run = (status: string, progress: Record<string, unknown>) => ({ status, progress }) as unknown as Run

describe('runPercent', () => {
  it('comes from step / total_steps, not from a download percent left in the snapshot', () => {
    expect(runPercent(run('running', { phase: 'training', step: 25, total_steps: 100, percent: 100 }))).toBe(25)
  })
  it('is 100 for a finished run and 0 before the first step', () => {
    expect(runPercent(run('succeeded', {}))).toBe(100)
    expect(runPercent(run('queued', {}))).toBe(0)
  })
})

describe('downloadPercent', () => {
  it('is shown only while the base model is loading', () => {
    expect(downloadPercent(run('running', { phase: 'loading_model', percent: 42.5 }))).toBe(42.5)
    expect(downloadPercent(run('running', { phase: 'training', percent: 42.5 }))).toBeNull()
  })
})
