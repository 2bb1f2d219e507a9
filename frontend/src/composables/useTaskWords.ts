import { useI18n } from 'vue-i18n'

/**
 * Messages in a task's own words: `tasks.wordsIn.<task>.<key>` where the locale has it (a generation dataset counts
 * conversations and their turns, an NER one entity types), else `<key>` itself.
 */
export function useTaskWords(task: () => string | undefined) {
  const { t, te } = useI18n()
  return (key: string, params: Record<string, unknown> = {}): string => {
    const own = `tasks.wordsIn.${task()}.${key}`
    return t(te(own) ? own : key, params)
  }
}
