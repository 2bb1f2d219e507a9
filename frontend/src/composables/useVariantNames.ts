/** A serving variant's translated display name (PyTorch fp32, ONNX int8...); unknown names are shown as sent. */
import { useI18n } from 'vue-i18n'

export function useVariantNames() {
  const { t, te } = useI18n()
  return (name: string): string => (te(`serving.name.${name}`) ? t(`serving.name.${name}`) : name)
}
