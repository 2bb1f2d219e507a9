/** Stop / cancel / resume a run with confirmation, feedback and translated errors. */
import { ElMessage } from 'element-plus'
import 'element-plus/es/components/message/style/css'
import { ref } from 'vue'
import { useI18n } from 'vue-i18n'

import { cancelRun, resumeRun, stopRun, type Run } from '@/api/runs'

import { useApiError } from './useApiError'
import { useConfirm } from './useConfirm'

export function useRunActions(onChange?: (run: Run) => void) {
  const { t } = useI18n()
  const { notify } = useApiError()
  const confirm = useConfirm()
  const busyId = ref<number | null>(null)

  async function act(run: Run, call: (id: number) => Promise<Run>, done: string) {
    busyId.value = run.id
    try {
      const updated = await call(run.id)
      ElMessage({ type: 'success', message: done })
      onChange?.(updated)
    } catch (err) {
      notify(err)
    } finally {
      busyId.value = null
    }
  }

  async function stop(run: Run) {
    const force = run.status === 'stopping'
    const ok = await confirm(force ? t('training.confirmForceStop') : t('training.confirmStop'), { danger: force })
    if (ok) await act(run, stopRun, t('training.stopRequested'))
  }

  async function cancel(run: Run) {
    if (await confirm(t('training.confirmCancel'))) await act(run, cancelRun, t('training.cancelled'))
  }

  async function resume(run: Run) {
    await act(run, resumeRun, t('training.resumed'))
  }

  return { busyId, stop, cancel, resume }
}
