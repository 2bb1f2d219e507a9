import { describe, expect, it } from 'vitest'

import type { BudgetPlan } from '@/api/runs'
import { mountWith } from '@/test/setup'

import BudgetPlanNote from './BudgetPlanNote.vue'

const PLAN: BudgetPlan = {
  budget_s: 900,
  measured_s_per_step: 4.2,
  measure_s: 20,
  requested_max_length: 272,
  requested_epochs: 3,
  max_length: 160,
  epochs: 3,
  train_rows: 5000,
  rows_seen: 5000,
  truncation_share: 0.12,
  estimated_s: 660,
  fits: true,
  changed: ['max_length'],
  message: '',
  actual_s: null,
}

describe('BudgetPlanNote', () => {
  it('says in plain words what the budget chose and what it costs, then the actual time', () => {
    const w = mountWith(BudgetPlanNote, { props: { plan: PLAN } }, 'en')
    expect(w.find('[data-test=budget-title]').text()).toBe('Time budget 15:00 · lowered to fit')
    expect(w.find('[data-test=budget-choice]').text()).toBe('texts cut to 160 tokens (12% of them); 3 epochs · planned ≈ 11:00')
    expect(w.find('[data-test=budget-actual]').exists()).toBe(false)
    const done = mountWith(BudgetPlanNote, { props: { plan: { ...PLAN, actual_s: 702 } } }, 'en')
    expect(done.find('[data-test=budget-actual]').text()).toBe('actual 11:42')
  })

  it('speaks Chinese, names a row share seen once, and warns when even that overruns', () => {
    const plan = { ...PLAN, epochs: 0.4, rows_seen: 2000, changed: ['max_length', 'rows'], fits: false }
    const text = mountWith(BudgetPlanNote, { props: { plan } }).text()
    expect(text).toContain('时间预算 15:00')
    expect(text).toContain('只用 5,000 行中的 2,000 行（40%），训练一遍')
    expect(text).toContain('即使最省时的方案也会超出预算')
    const asIs = mountWith(BudgetPlanNote, { props: { plan: { ...PLAN, changed: [], max_length: 272, truncation_share: 0 } } }).text()
    expect(asIs).toContain('按设置即可完成')
    expect(asIs).toContain('3 轮')
    expect(asIs).not.toContain('截断')
  })

  it('names the cut when the automatic length (not the budget) truncates texts', () => {
    const plan = { ...PLAN, changed: [], max_length: 128, truncation_share: 0.34 }
    const w = mountWith(BudgetPlanNote, { props: { plan } }, 'en')
    expect(w.find('[data-test=budget-title]').text()).toBe('Time budget 15:00 · fits as configured')
    expect(w.find('[data-test=budget-choice]').text()).toBe('texts cut to 128 tokens (34% of them); 3 epochs · planned ≈ 11:00')
  })
})
