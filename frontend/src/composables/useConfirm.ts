/** A yes/no confirmation in the current language; resolves false when the user backs out. */
import { ElMessageBox } from 'element-plus'
import 'element-plus/es/components/message-box/style/css'
import { useI18n } from 'vue-i18n'

export function useConfirm() {
  const { t } = useI18n()
  return async function confirm(message: string, opts: { title?: string; danger?: boolean; confirmText?: string } = {}) {
    try {
      await ElMessageBox.confirm(message, opts.title ?? t('common.confirmTitle'), {
        type: opts.danger ? 'warning' : 'info',
        confirmButtonText: opts.confirmText ?? t('common.confirm'),
        cancelButtonText: t('common.cancel'),
        confirmButtonClass: opts.danger ? 'el-button--danger' : undefined,
      })
      return true
    } catch {
      return false
    }
  }
}
