/** Load the version a page's user picked while they type: the first answer then skips loading torch and the model. */
import { type Ref, watch } from 'vue'

import type { VariantName } from '@/api/models'
import { loadModel } from '@/api/predict'

/** `ready` false: nothing to load yet (no versions listed). Failures are left to the prediction, which reports them. */
export function useModelWarmUp(modelId: Ref<number | undefined>, variant: Ref<VariantName | undefined>, ready: Ref<boolean>): void {
  watch(
    [modelId, variant, ready],
    ([id, v, isReady]) => {
      if (isReady) loadModel(id, v).catch(() => undefined)
    },
    { immediate: true },
  )
}
