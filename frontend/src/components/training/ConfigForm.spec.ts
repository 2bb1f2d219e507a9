import { flushPromises } from '@vue/test-utils'
import { describe, expect, it } from 'vitest'

import type { JsonSchema } from '@/api/training'
import { mountWith } from '@/test/setup'
import { schemaDefaults } from '@/utils/schema'

import ConfigForm from './ConfigForm.vue'

const SCHEMA: JsonSchema = {
  properties: {
    epochs: { type: 'number', default: 3, exclusiveMinimum: 0, maximum: 100, description: 'Passes over the data.' },
    learning_rate: { type: 'number', default: 0.0001, exclusiveMinimum: 0, maximum: 0.01 },
    seed: { type: 'integer', default: 42, minimum: 0 },
    max_length: { anyOf: [{ type: 'integer', minimum: 8 }, { type: 'null' }], default: null, 'x-help-values': { cap: 160, whole: 320 } },
    brand_new_field: { type: 'string', default: '', title: 'Brand New Field', description: 'Added by the server.' },
  },
}

describe('ConfigForm', () => {
  it('labels fields from the translations, falls back to the schema, and tucks the rest under advanced', () => {
    const w = mountWith(ConfigForm, { props: { schema: SCHEMA, modelValue: schemaDefaults(SCHEMA) } })
    expect(w.find('[data-field=epochs]').text()).toContain('训练轮数')
    expect(w.find('[data-field=learning_rate] input').element).toHaveProperty('value', '0.0001')
    const advanced = w.find('.el-collapse')
    expect(advanced.find('[data-field=seed]').text()).toContain('随机种子')
    expect(advanced.find('[data-field=brand_new_field]').text()).toContain('Brand New Field') // unknown to i18n
  })

  it("names the server's CPU length cap in the translated help, not a number of its own", () => {
    const w = mountWith(ConfigForm, { props: { schema: SCHEMA, modelValue: schemaDefaults(SCHEMA) } })
    expect(w.find('[data-field=max_length] .help').attributes('aria-label')).toContain('最多 160')
    expect(w.find('[data-field=max_length] .help').attributes('aria-label')).toContain('多标签任务读完整文本，CPU 上最多 320')
  })

  it('emits the whole config with the edited value', async () => {
    const w = mountWith(ConfigForm, { props: { schema: SCHEMA, modelValue: schemaDefaults(SCHEMA) } })
    await w.find('[data-field=learning_rate] input').setValue('2e-5')
    await flushPromises()
    const updates = w.emitted('update:modelValue') as Record<string, unknown>[][]
    expect(updates.at(-1)?.[0]).toEqual({ epochs: 3, learning_rate: 2e-5, seed: 42, max_length: null, brand_new_field: '' })
  })

  it("shows a task's own fields only: LoRA for generation data, the head's rate for the encoder tasks", () => {
    const schema: JsonSchema = {
      properties: {
        ...SCHEMA.properties,
        head_learning_rate: { type: 'number', default: 0.01, 'x-tasks': ['classification', 'ner'] },
        lora_rank: { type: 'integer', default: 16, 'x-tasks': ['generation'] },
      },
    }
    const shown = (task?: string) =>
      mountWith(ConfigForm, { props: { schema, task, modelValue: schemaDefaults(schema) } })
        .findAll('[data-field]')
        .map((f) => f.attributes('data-field'))
    expect(shown('generation')).toContain('lora_rank')
    expect(shown('generation')).not.toContain('head_learning_rate')
    expect(shown('ner')).toContain('head_learning_rate')
    expect(shown('ner')).not.toContain('lora_rank')
    expect(shown()).toEqual(expect.arrayContaining(['lora_rank', 'head_learning_rate'])) // before a dataset is chosen
  })
})
