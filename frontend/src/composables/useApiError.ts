/** Turn any failure into a readable, translated sentence: the error code picks the text, the server message is the fallback. */
import { ElMessage } from 'element-plus'
import 'element-plus/es/components/message/style/css'
import { useI18n } from 'vue-i18n'

import { toApiError } from '@/api/http'

export function useApiError() {
  const { t, te } = useI18n()

  function describe(err: unknown): string {
    const e = toApiError(err)
    const key = `errors.${e.code}`
    const known = te(key) ? t(key, e.details as Record<string, unknown>) : ''
    if (!known) return e.message || t('errors.unknown_error')
    // The server message names the exact problem (which field, which file); keep it beside the translation.
    return e.message && e.message !== known ? `${known} (${e.message})` : known
  }

  function notify(err: unknown): void {
    ElMessage({ type: 'error', message: describe(err), showClose: true, duration: 6000 })
  }

  return { describe, notify }
}
