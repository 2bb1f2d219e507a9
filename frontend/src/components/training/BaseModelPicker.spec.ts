import { flushPromises } from '@vue/test-utils'
import { describe, expect, it, vi } from 'vitest'

import * as api from '@/api/baseModels'
import { mountWith } from '@/test/setup'

import BaseModelPicker from './BaseModelPicker.vue'

vi.mock('@/api/baseModels', async (original) => ({
  ...(await original<typeof api>()),
  listBaseModels: vi.fn(),
  getEmbeddedStatus: vi.fn(async () => ({ status: 'idle', folder: null, progress: null, error: null })),
}))

function model(source: string): api.BaseModel {
  return { source, kind: 'embedded', availability: 'offline-ready', params_m: 1, size_mb: 1, description_en: source, description_zh: source, default: true }
}

function catalog(source: string): api.BaseModelList {
  return { items: [model(source)], default: source, default_reason: '', hub_endpoint: '', hub_reachable: false, hub_problem: null }
}

describe('BaseModelPicker', () => {
  it("offers the dataset's task its own models: an encoder by default, the chat model once the data is conversations", async () => {
    vi.mocked(api.listBaseModels).mockImplementation(async (task) =>
      catalog(task === 'generation' ? 'embedded:gemma-3-270m' : 'embedded:multilingual-e5-small'),
    )
    const w = mountWith(BaseModelPicker, { props: { modelValue: '', task: undefined, 'onUpdate:modelValue': (v: string) => w.setProps({ modelValue: v }) } })
    await flushPromises()
    expect(w.props('modelValue')).toBe('embedded:multilingual-e5-small')

    await w.setProps({ task: 'generation' })
    await flushPromises()
    expect(vi.mocked(api.listBaseModels)).toHaveBeenLastCalledWith('generation')
    expect(w.props('modelValue')).toBe('embedded:gemma-3-270m')
    expect(vi.mocked(api.getEmbeddedStatus)).toHaveBeenLastCalledWith('embedded:gemma-3-270m') // its own preparation
  })
})
