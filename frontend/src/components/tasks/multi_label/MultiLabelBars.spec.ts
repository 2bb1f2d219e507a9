import { describe, expect, it } from 'vitest'

import { mountWith } from '@/test/setup'

import MultiLabelBars from './MultiLabelBars.vue'

describe('MultiLabelBars', () => {
  it('tags the labels that pass their threshold and says of every label whether it reaches its threshold', () => {
    const w = mountWith(MultiLabelBars, {
      props: {
        prediction: {
          label: '动力|油耗',
          labels: ['动力', '油耗'],
          score: 0.9,
          truncated: false,
          probabilities: [
            { label: '外观', probability: 0.2, threshold: 0.4, passed: false },
            { label: '动力', probability: 0.9, threshold: 0.5, passed: true },
            { label: '油耗', probability: 0.45, threshold: 0.3, passed: true },
          ],
        },
      },
    })
    expect(w.find('[data-test=passed-labels]').text()).toContain('动力')
    const rows = w.findAll('[data-test=probability-row]')
    expect(rows.map((r) => r.attributes('data-label'))).toEqual(['动力', '油耗', '外观'])
    expect(rows.map((r) => r.attributes('data-passed'))).toEqual(['true', 'true', 'false'])
    expect(rows[0].find('[data-test=threshold]').text()).toBe('≥ 阈值 50.0%')
    expect(rows[2].find('[data-test=threshold]').text()).toBe('< 阈值 40.0%')
    expect(rows[2].find('[data-test=threshold-marker]').attributes('style')).toContain('left: 40%')
  })
})
