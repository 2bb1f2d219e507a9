/** Mount helpers for unit tests: the real i18n (Chinese by default) and a fresh Pinia per mount. */
import { mount, type ComponentMountingOptions } from '@vue/test-utils'
import { createPinia } from 'pinia'
import { defineComponent, h, type Component } from 'vue'

import { createAppI18n, type AppLocale } from '@/i18n'

export function plugins(locale: AppLocale = 'zh-CN') {
  return [createAppI18n(locale), createPinia()]
}

export function mountWith<C extends Component>(component: C, options: ComponentMountingOptions<C> = {}, locale: AppLocale = 'zh-CN') {
  return mount(component, {
    ...options,
    global: { ...(options.global ?? {}), plugins: plugins(locale), stubs: { RouterLink: true, ...(options.global?.stubs ?? {}) } },
  } as ComponentMountingOptions<C>)
}

/** Run a composable inside a component's setup (it may use useI18n, lifecycle hooks, scopes). */
export function withSetup<T>(composable: () => T, locale: AppLocale = 'zh-CN'): { result: T; unmount: () => void } {
  let result!: T
  const Host = defineComponent({
    setup() {
      result = composable()
      return () => h('div')
    },
  })
  const wrapper = mount(Host, { global: { plugins: plugins(locale) } })
  return { result, unmount: () => wrapper.unmount() }
}
