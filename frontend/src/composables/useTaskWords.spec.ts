import { describe, expect, it } from 'vitest'

import { withSetup } from '@/test/setup'

import { useTaskWords } from './useTaskWords'

describe('useTaskWords', () => {
  it('counts a generation dataset in conversations and an NER one in entity types, and classes for the rest', () => {
    const counts = { rows: 992, labels: 1 }
    const say = (task: string, locale: 'zh-CN' | 'en' = 'zh-CN') =>
      withSetup(() => useTaskWords(() => task), locale).result('datasets.summary', counts)
    expect(say('generation')).toBe('992 段对话')
    expect(say('ner')).toBe('992 条文本 · 1 种实体')
    expect(say('classification')).toBe('992 行 · 1 个类别')
    expect(say('generation', 'en')).toBe('992 conversations')
  })
})
