import { describe, expect, it } from 'vitest'

import { mountWith } from '@/test/setup'

import EntityHighlight from './EntityHighlight.vue'
import { entityColour, segments } from './segments'

const text = '浙商银行的叶老桂😀在北京'
const entities = [
  { start: 0, end: 4, label: 'company', text: '浙商银行', score: 0.98 },
  { start: 5, end: 8, label: 'name', text: '叶老桂', score: 0.9 },
  { start: 10, end: 12, label: 'address', text: '北京', score: 0.8 },
]

describe('EntityHighlight', () => {
  it('highlights each entity on its characters with its type, the rest as plain text', () => {
    const w = mountWith(EntityHighlight, {
      props: { prediction: { label: 'address,company,name', score: 0.8, probabilities: [], truncated: false, text, entities } },
    })
    const marks = w.findAll('[data-test=entity]')
    expect(marks.map((m) => m.attributes('data-label'))).toEqual(['company', 'name', 'address'])
    expect(marks[2].text()).toContain('北京')
    expect(w.find('[data-test=ner-text]').text().replace(/company|name|address/g, '')).toBe(text)
    expect(w.findAll('[data-test=entity-table] tbody tr')).toHaveLength(3)
  })

  it('says so when the text has no entity', () => {
    const w = mountWith(EntityHighlight, {
      props: { prediction: { label: '', score: 1, probabilities: [], truncated: false, text: '今天天气不错', entities: [] } },
    })
    expect(w.find('[data-test=no-entities]').exists()).toBe(true)
    expect(w.find('[data-test=ner-text]').text()).toBe('今天天气不错')
  })
})

describe('segments', () => {
  it('counts offsets in code points, as Python does, so text after an emoji stays aligned', () => {
    const parts = segments(text, entities)
    expect(parts.find((p) => p.entity?.label === 'address')?.text).toBe('北京')
  })

  it('gives a type the same colour every time', () => {
    expect(entityColour('name')).toBe(entityColour('name'))
  })
})
