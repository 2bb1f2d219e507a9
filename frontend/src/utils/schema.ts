/** Reading the training-config JSON schema (pydantic): which widget a field needs, its bounds and default. */
import type { JsonSchema, JsonSchemaProperty } from '@/api/training'

export type FieldWidget = 'text' | 'integer' | 'number' | 'float-text' | 'select' | 'switch' | 'int-list'

export interface FormField {
  name: string
  widget: FieldWidget
  nullable: boolean
  options: string[]
  min?: number
  max?: number
  /** Absent when the server fills it itself (pydantic default_factory): the form then leaves the field out. */
  hasDefault: boolean
  default: unknown
  description: string
  title: string
  /** Values the translated help interpolates (`{cap}`), from the schema's `x-help-values`. */
  helpValues: Record<string, string | number>
  /** The tasks the field applies to (absent: every task), from the schema's `x-tasks`. */
  tasks?: string[]
  /** Defaults that differ by task, from the schema's `x-task-defaults` (`default` holds for the other tasks). */
  taskDefaults: Record<string, unknown>
}

/** The non-null branch of `anyOf: [{...}, {type: null}]`, and whether null is allowed. */
function unwrap(prop: JsonSchemaProperty): { base: JsonSchemaProperty; nullable: boolean } {
  if (prop.anyOf?.length) {
    const nonNull = prop.anyOf.filter((p) => p.type !== 'null')
    return { base: { ...nonNull[0], ...prop, anyOf: undefined }, nullable: nonNull.length < prop.anyOf.length }
  }
  return { base: prop, nullable: false }
}

export function schemaFields(schema: JsonSchema): FormField[] {
  return Object.entries(schema.properties).map(([name, prop]) => {
    const { base, nullable } = unwrap(prop)
    const min = base.minimum ?? base.exclusiveMinimum
    const max = base.maximum ?? base.exclusiveMaximum
    let widget: FieldWidget = 'text'
    if (base.enum?.length) widget = 'select'
    else if (base.type === 'boolean') widget = 'switch'
    else if (base.type === 'integer') widget = 'integer'
    else if (base.type === 'number') widget = max !== undefined && max <= 0.01 ? 'float-text' : 'number'
    else if (base.type === 'array') widget = 'int-list'
    return {
      name,
      widget,
      nullable,
      options: (base.enum ?? []).map(String),
      min,
      max,
      hasDefault: 'default' in prop,
      default: prop.default ?? null,
      description: base.description ?? '',
      title: base.title ?? name,
      helpValues: prop['x-help-values'] ?? {},
      tasks: prop['x-tasks'],
      taskDefaults: prop['x-task-defaults'] ?? {},
    }
  })
}

/** A field's default for a task: its task default when it has one, else the schema's. */
export function fieldDefault(field: FormField, task?: string): unknown {
  const value = task && task in field.taskDefaults ? field.taskDefaults[task] : field.default
  return Array.isArray(value) ? [...value] : value
}

export function schemaDefaults(schema: JsonSchema, task?: string): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const f of schemaFields(schema)) {
    if (f.hasDefault) out[f.name] = fieldDefault(f, task)
  }
  return out
}

/**
 * The config after the dataset's task changed from `from` to `to`: a field still at its old task's default takes the
 * new task's; a value the user typed stays.
 */
export function switchTaskDefaults(
  schema: JsonSchema,
  config: Record<string, unknown>,
  from: string | undefined,
  to: string | undefined,
): Record<string, unknown> {
  const out = { ...config }
  for (const f of schemaFields(schema)) {
    if (Object.keys(f.taskDefaults).length && out[f.name] === fieldDefault(f, from)) out[f.name] = fieldDefault(f, to)
  }
  return out
}
