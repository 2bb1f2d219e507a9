/** Set-default and delete for a model version, with confirmation, feedback and translated errors. */
import { ElMessage } from 'element-plus'
import 'element-plus/es/components/message/style/css'
import { ref } from 'vue'
import { useI18n } from 'vue-i18n'

import { deleteModel, setDefaultModel } from '@/api/models'

import { useApiError } from './useApiError'
import { useConfirmedDelete } from './useConfirmedDelete'

export function useModelActions(onChange: () => void) {
  const { t } = useI18n()
  const { notify } = useApiError()
  const busyId = ref<number | null>(null)

  async function makeDefault(model: { id: number }) {
    busyId.value = model.id
    try {
      await setDefaultModel(model.id)
      ElMessage({ type: 'success', message: t('models.defaultSet') })
      onChange()
    } catch (err) {
      notify(err)
    } finally {
      busyId.value = null
    }
  }

  const confirmedDelete = useConfirmedDelete(deleteModel, 'models.confirmDelete')
  async function remove(model: { id: number; name: string }): Promise<boolean> {
    const gone = await confirmedDelete(model)
    if (gone) onChange()
    return gone
  }

  return { busyId, makeDefault, remove }
}
