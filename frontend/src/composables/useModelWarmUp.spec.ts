import { flushPromises } from '@vue/test-utils'
import { describe, expect, it, vi } from 'vitest'
import { ref } from 'vue'

import type { VariantName } from '@/api/models'
import * as predictApi from '@/api/predict'

import { useModelWarmUp } from './useModelWarmUp'
import { withSetup } from '@/test/setup'

vi.mock('@/api/predict', () => ({ loadModel: vi.fn() }))

describe('useModelWarmUp', () => {
  it('asks the server to load each version the user picks once versions are listed, and shrugs off a refusal', async () => {
    const load = vi.mocked(predictApi.loadModel).mockRejectedValueOnce(new Error('variant not built')).mockResolvedValue({
      model_id: 3,
      variant: 'onnx',
      loaded: false,
    })
    const modelId = ref<number | undefined>(undefined)
    const variant = ref<VariantName | undefined>(undefined)
    const listed = ref(false)
    const { unmount } = withSetup(() => useModelWarmUp(modelId, variant, listed))
    expect(load).not.toHaveBeenCalled()

    listed.value = true
    await flushPromises()
    expect(load).toHaveBeenLastCalledWith(undefined, undefined)

    modelId.value = 3
    variant.value = 'onnx'
    await flushPromises()
    expect(load).toHaveBeenLastCalledWith(3, 'onnx')
    expect(load).toHaveBeenCalledTimes(2)
    unmount()
  })
})
