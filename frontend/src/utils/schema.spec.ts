import { describe, expect, it } from 'vitest'

import type { JsonSchema } from '@/api/training'

import { schemaDefaults, schemaFields, switchTaskDefaults } from './schema'

// Shapes as pydantic's model_json_schema() writes them for TrainingConfig.
const SCHEMA: JsonSchema = {
  properties: {
    learning_rate: { type: 'number', default: 0.0001, exclusiveMinimum: 0, maximum: 0.01, description: 'LR' },
    batch_size: { type: 'integer', default: 32, minimum: 1, maximum: 1024 },
    max_length: { anyOf: [{ type: 'integer', minimum: 8, maximum: 8192 }, { type: 'null' }], default: null, 'x-help-values': { cap: 160 } },
    eval_strategy: { type: 'string', enum: ['epoch', 'steps'], default: 'epoch' },
    freeze_embeddings: { type: 'boolean', default: true },
    gpu_ids: { type: 'array', items: { type: 'integer' }, maxItems: 16 } as never,
  },
}

describe('schemaFields', () => {
  it('picks a widget per field type, with bounds and nullability', () => {
    const byName = Object.fromEntries(schemaFields(SCHEMA).map((f) => [f.name, f]))
    expect(byName.learning_rate.widget).toBe('float-text') // tiny floats are typed as text (1e-4)
    expect(byName.batch_size).toMatchObject({ widget: 'integer', min: 1, max: 1024, nullable: false })
    expect(byName.max_length).toMatchObject({ widget: 'integer', min: 8, nullable: true, helpValues: { cap: 160 } })
    expect(byName.eval_strategy).toMatchObject({ widget: 'select', options: ['epoch', 'steps'] })
    expect(byName.freeze_embeddings.widget).toBe('switch')
    expect(byName.gpu_ids.widget).toBe('int-list')
  })
})

describe('schemaDefaults', () => {
  it('takes the schema defaults and leaves out fields the server fills itself', () => {
    const d = schemaDefaults(SCHEMA)
    expect(d).toEqual({
      learning_rate: 0.0001,
      batch_size: 32,
      max_length: null,
      eval_strategy: 'epoch',
      freeze_embeddings: true,
    })
    expect('gpu_ids' in d).toBe(false) // default_factory: sending null would be rejected
  })
})

describe('task defaults', () => {
  const WITH_TASK: JsonSchema = {
    properties: {
      epochs: { type: 'number', default: 3, exclusiveMinimum: 0, maximum: 100, 'x-task-defaults': { ner: 5 } },
      batch_size: { type: 'integer', default: 32, minimum: 1, maximum: 1024 },
    },
  }

  it('fills a field with its task default for that task and the schema default for the others', () => {
    expect(schemaDefaults(WITH_TASK, 'ner')).toEqual({ epochs: 5, batch_size: 32 })
    expect(schemaDefaults(WITH_TASK, 'pair')).toEqual({ epochs: 3, batch_size: 32 })
  })

  it('switches a field left at its default when the dataset task changes, and keeps what the user typed', () => {
    expect(switchTaskDefaults(WITH_TASK, { epochs: 3, batch_size: 32 }, 'pair', 'ner')).toEqual({ epochs: 5, batch_size: 32 })
    expect(switchTaskDefaults(WITH_TASK, { epochs: 5, batch_size: 32 }, 'ner', undefined).epochs).toBe(3)
    expect(switchTaskDefaults(WITH_TASK, { epochs: 2, batch_size: 32 }, 'pair', 'ner').epochs).toBe(2)
  })
})
