/** Delete something named after a confirmation; says "deleted" or shows the translated error. */
import { ElMessage } from 'element-plus'
import 'element-plus/es/components/message/style/css'
import { useI18n } from 'vue-i18n'

import { useApiError } from './useApiError'
import { useConfirm } from './useConfirm'

export function useConfirmedDelete(del: (id: number) => Promise<void>, confirmKey: string) {
  const { t } = useI18n()
  const { notify } = useApiError()
  const confirm = useConfirm()

  /** Resolves true when the item is gone. */
  return async function remove(item: { id: number; name: string }): Promise<boolean> {
    const ok = await confirm(t(confirmKey, { name: item.name }), { danger: true, confirmText: t('common.delete') })
    if (!ok) return false
    try {
      await del(item.id)
      ElMessage({ type: 'success', message: t('common.deleted') })
      return true
    } catch (err) {
      notify(err)
      return false
    }
  }
}
