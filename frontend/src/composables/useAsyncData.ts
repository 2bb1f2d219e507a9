/** Load data with loading and error state; `reload()` refetches and keeps the previous data while it runs. */
import { ref, shallowRef, type Ref } from 'vue'

import { type ApiError, toApiError } from '@/api/http'

export function useAsyncData<T>(fetcher: () => Promise<T>, initial: T) {
  const data = shallowRef(initial) as Ref<T>
  const loading = ref(false)
  const error = shallowRef<ApiError | null>(null)
  const loaded = ref(false)

  async function reload(): Promise<T> {
    loading.value = true
    try {
      data.value = await fetcher()
      error.value = null
      loaded.value = true
    } catch (err) {
      error.value = toApiError(err)
    } finally {
      loading.value = false
    }
    return data.value
  }

  return { data, loading, error, loaded, reload }
}
