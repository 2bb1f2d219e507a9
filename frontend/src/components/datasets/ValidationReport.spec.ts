import { flushPromises } from '@vue/test-utils'
import { describe, expect, it } from 'vitest'

import type { Dataset, ValidationReport as Report } from '@/api/datasets'
import { mountWith } from '@/test/setup'

import ValidationReport from './ValidationReport.vue'

const stats = { min: 2, mean: 2.5, median: 2, p95: 4, max: 4, histogram: [] }
const report = {
  rows_read: 62,
  rows_kept: 60,
  trainable_rows: 60,
  dropped: {},
  malformed_rows: [],
  conflicts: { texts: 0, rows: 0, examples: [] },
  labels_normalised: [],
  label_counts: { name: 40, city: 30, company: 10 },
  split_counts: {},
  text_length: { ...stats, mean: 10 },
  warnings: [{ code: 'refused_spans', message: '2 text(s) were refused because of their entities', details: { lines: [61, 62] } }],
  ner: {
    entity_counts: { name: 40, city: 30, company: 10 },
    entities: 80,
    texts_without_entities: 3,
    entity_length: stats,
    refused: {
      rows: 2,
      counts: { out_of_range: 1, overlapping: 1 },
      lines: [61, 62],
      examples: [
        { line: 61, code: 'out_of_range', message: "line 61: entity [1, 9) 'city' lies outside the text of 3 chars", text: '坏数据' },
        { line: 62, code: 'overlapping', message: 'line 62: entities [0, 2) and [1, 3) overlap', text: '张三丰' },
      ],
    },
  },
} as Report

function dataset(task: Dataset['task'], r: Report = report): Dataset {
  return { id: 1, name: 'people', task, text_column: 'text', label_column: 'entities', file_format: 'jsonl', encoding: 'utf-8', report: r } as Dataset
}

describe('ValidationReport', () => {
  it('names the columns in the task’s own words: entities for NER, one conversation column for chat files', () => {
    const ner = mountWith(ValidationReport, { props: { dataset: dataset('ner') } })
    expect(ner.find('[data-test=report-columns]').text()).toBe('text / entities')
    expect(ner.text()).toContain('文本列 / 实体列')
    const chat = { ...dataset('generation', { ...report, ner: undefined, warnings: [] } as Report), text_column: 'messages', label_column: '' }
    const w = mountWith(ValidationReport, { props: { dataset: chat } })
    expect(w.find('[data-test=report-columns]').text()).toBe('messages')
    expect(w.text()).toContain('对话所在列')
  })

  it('shows an NER dataset’s entities per type, most frequent first, and the refused lines with their reason', async () => {
    const w = mountWith(ValidationReport, { props: { dataset: dataset('ner') } })
    await flushPromises() // el-table fills its cells once its columns have registered
    const bars = w.findAll('[data-test=entity-count]')
    expect(bars.map((b) => [b.attributes('data-label'), b.attributes('data-count')])).toEqual([
      ['name', '40'],
      ['city', '30'],
      ['company', '10'],
    ])
    expect(w.find('[data-test=ner-report]').text()).toContain('共 80 个')
    expect(w.find('[data-test=texts-without-entities]').text()).toBe('3 条文本没有实体')
    expect(w.find('[data-test=report-warning]').text()).toContain('部分文本因实体标注有误被拒收')
    const refused = w.find('[data-test=ner-refused]')
    expect(refused.text()).toContain('2 条文本因实体标注有误被拒收')
    expect(w.findAll('[data-test=refused-reason]').map((r) => r.text())).toEqual(['位置超出文本范围: 1', '实体相互重叠: 1'])
    const rows = w.findAll('[data-test=refused-examples] tbody tr')
    expect(rows).toHaveLength(2)
    expect(rows[0].text()).toContain('61')
    expect(rows[0].text()).toContain('位置超出文本范围')
    expect(rows[0].text()).toContain('坏数据')
  })

  it('speaks English too, and names an unknown reason by its code', async () => {
    const r = { ...report, ner: { ...report.ner!, refused: { ...report.ner!.refused, counts: { something_new: 2 } } } }
    const w = mountWith(ValidationReport, { props: { dataset: dataset('ner', r) } }, 'en')
    await flushPromises()
    expect(w.find('[data-test=ner-report]').text()).toContain('Entities per type (80 in all)')
    expect(w.find('[data-test=texts-without-entities]').text()).toBe('3 text(s) without any entity')
    expect(w.findAll('[data-test=refused-reason]').map((x) => x.text())).toEqual(['something_new: 2'])
    expect(w.find('[data-test=refused-examples]').text()).toContain('Offsets outside the text')
  })

  it('has no NER part for other tasks, and no refused section when nothing was refused', () => {
    expect(mountWith(ValidationReport, { props: { dataset: dataset('classification') } }).find('[data-test=ner-report]').exists()).toBe(false)
    const clean = { ...report, ner: { ...report.ner!, refused: { rows: 0, counts: {}, lines: [], examples: [] } } }
    const w = mountWith(ValidationReport, { props: { dataset: dataset('ner', clean) } })
    expect(w.find('[data-test=ner-report]').exists()).toBe(true)
    expect(w.find('[data-test=ner-refused]').exists()).toBe(false)
  })

  it('rounds the length statistics of reports stored before lengths were rounded (no P95 380.75000000000017)', () => {
    const old = { ...report, text_length: { ...stats, median: 84.50000000000001, p95: 380.75000000000017 } }
    const text = mountWith(ValidationReport, { props: { dataset: dataset('classification', old) } }).text()
    expect(text).toContain('380.8')
    expect(text).not.toContain('380.75')
    expect(text).toContain('84.5')
  })

  it('says which task the file’s layout chose, and warns in words when the uploader chose another one', () => {
    const detected = { ...report, warnings: [], task_detection: { task: 'pair' as const, evidence: ['text_a', 'text_b'], asked: null } }
    const auto = mountWith(ValidationReport, { props: { dataset: dataset('pair', detected) } })
    expect(auto.find('[data-test=task-detected]').text()).toBe('任务按文件内容识别为「句对匹配」（依据：text_a、text_b）。')
    const details = { task: 'pair', asked: 'classification', evidence: ['text_a', 'text_b'] }
    const chosen = {
      ...report,
      task_detection: { ...detected.task_detection, asked: 'classification' as const },
      warnings: [{ code: 'task_looks_different', message: 'looks like pair data', details }],
    }
    const w = mountWith(ValidationReport, { props: { dataset: dataset('classification', chosen) } })
    expect(w.find('[data-test=task-detected]').exists()).toBe(false)
    expect(w.find('[data-test=report-warning]').text()).toContain(
      '这个文件看起来是「句对匹配」数据（依据：text_a、text_b），却按「单标签分类」上传了。',
    )
  })
})
