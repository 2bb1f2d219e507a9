/** The UI language: switches vue-i18n, Element Plus and <html lang>, and remembers the choice. */
import en from 'element-plus/es/locale/lang/en'
import zhCn from 'element-plus/es/locale/lang/zh-cn'
import { defineStore } from 'pinia'
import { computed, ref, watch } from 'vue'
import { useI18n } from 'vue-i18n'

import { type AppLocale, LOCALE_STORAGE_KEY, savedLocale } from '@/i18n'

export const useLocaleStore = defineStore('locale', () => {
  const { locale: i18nLocale } = useI18n({ useScope: 'global' })
  const locale = ref<AppLocale>(savedLocale())
  const elementLocale = computed(() => (locale.value === 'en' ? en : zhCn))

  function setLocale(next: AppLocale) {
    locale.value = next
  }

  watch(
    locale,
    (value) => {
      i18nLocale.value = value
      document.documentElement.lang = value
      try {
        localStorage.setItem(LOCALE_STORAGE_KEY, value)
      } catch {
        // Private mode without storage: the switch still works for this tab.
      }
    },
    { immediate: true },
  )

  return { locale, elementLocale, setLocale }
})
