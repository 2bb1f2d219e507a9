/** The training-config JSON schema: one source for the form's fields, defaults, bounds and help text. */
import { http } from './http'

export interface JsonSchemaProperty {
  type?: string
  title?: string
  description?: string
  default?: unknown
  enum?: unknown[]
  minimum?: number
  maximum?: number
  exclusiveMinimum?: number
  exclusiveMaximum?: number
  maxLength?: number
  anyOf?: JsonSchemaProperty[]
  items?: JsonSchemaProperty
  const?: unknown
  /** Numbers the translated help text names (the server's own constants, e.g. the CPU length cap). */
  'x-help-values'?: Record<string, string | number>
  /** The tasks the field applies to (absent: every task), e.g. LoRA settings for generation only. */
  'x-tasks'?: string[]
  /** Defaults that differ by task (e.g. NER trains more epochs); the schema's `default` is every other task's. */
  'x-task-defaults'?: Record<string, unknown>
}

export interface JsonSchema {
  title?: string
  type?: string
  properties: Record<string, JsonSchemaProperty>
  required?: string[]
  $defs?: Record<string, JsonSchemaProperty>
}

export async function getTrainingConfigSchema(): Promise<JsonSchema> {
  const { data } = await http.get<JsonSchema>('/api/training/config-schema')
  return data
}
