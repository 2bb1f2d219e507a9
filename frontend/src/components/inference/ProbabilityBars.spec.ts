import { describe, expect, it } from 'vitest'

import { mountWith } from '@/test/setup'

import ProbabilityBars from './ProbabilityBars.vue'

describe('ProbabilityBars', () => {
  it('shows every class, most probable first, with its percentage', () => {
    const w = mountWith(ProbabilityBars, {
      props: {
        probabilities: [
          { label: '体育', probability: 0.1 },
          { label: '财经', probability: 0.7 },
          { label: '科技', probability: 0.2 },
        ],
      },
    })
    const rows = w.findAll('[data-test=probability-row]')
    expect(rows.map((r) => r.attributes('data-label'))).toEqual(['财经', '科技', '体育'])
    expect(rows[0].text()).toContain('70.0%')
  })

  it('renders a label as text, never as HTML', () => {
    const w = mountWith(ProbabilityBars, { props: { probabilities: [{ label: '<img src=x onerror=alert(1)>', probability: 1 }] } })
    expect(w.find('img').exists()).toBe(false)
    expect(w.text()).toContain('<img src=x onerror=alert(1)>')
  })
})
