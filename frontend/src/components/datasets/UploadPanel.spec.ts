import { flushPromises } from '@vue/test-utils'
import { describe, expect, it, vi } from 'vitest'

import * as datasetsApi from '@/api/datasets'
import { ApiError } from '@/api/http'
import { mountWith } from '@/test/setup'

import UploadPanel from './UploadPanel.vue'

vi.mock('@/api/datasets', () => ({ uploadDataset: vi.fn() }))

async function chooseFile(w: ReturnType<typeof mountWith>) {
  const file = new File(['正文,打分\n好吃,1\n'], 'reviews.csv', { type: 'text/csv' })
  const upload = w.findComponent({ name: 'ElUpload' })
  // What el-upload hands to on-change when a file is picked or dropped.
  ;(upload.props('onChange') as (f: { raw: File }) => void)({ raw: file })
  await flushPromises()
  return file
}

describe('UploadPanel', () => {
  it('asks for the text and label columns when the server cannot find them, then uploads again with them', async () => {
    const missing = new ApiError('missing_columns', 'Could not find the text column.', 422, {
      role: 'text',
      available: ['正文', '打分'],
    })
    const dataset = { id: 3, name: 'reviews', row_count: 1 } as datasetsApi.Dataset
    vi.mocked(datasetsApi.uploadDataset).mockRejectedValueOnce(missing).mockResolvedValueOnce(dataset)
    const w = mountWith(UploadPanel)
    const file = await chooseFile(w)

    expect(w.find('[data-test=column-chooser]').exists()).toBe(false)
    await w.find('[data-test=upload-submit]').trigger('click')
    await flushPromises()
    expect(w.find('[data-test=column-chooser]').exists()).toBe(true)
    expect(w.text()).toContain('请指定文本列和标签列')
    const submit = w.find('[data-test=upload-submit]')
    expect(submit.attributes('disabled')).toBeDefined() // both columns must be chosen first

    const selects = w.findAllComponents({ name: 'ElSelect' })
    selects[0].vm.$emit('update:modelValue', '正文')
    selects[1].vm.$emit('update:modelValue', '打分')
    await flushPromises()
    await w.find('[data-test=upload-submit]').trigger('click')
    await flushPromises()

    expect(vi.mocked(datasetsApi.uploadDataset)).toHaveBeenLastCalledWith(
      file,
      { name: 'reviews', task: undefined, text_column: '正文', label_column: '打分' },
      expect.any(Function),
    )
    expect(w.emitted('uploaded')?.[0]).toEqual([dataset])
  })

  it('shows any other failure as a translated message', async () => {
    vi.mocked(datasetsApi.uploadDataset).mockRejectedValueOnce(new ApiError('file_too_large', 'Limit is 200 MB.', 413))
    const w = mountWith(UploadPanel)
    await chooseFile(w)
    await w.find('[data-test=upload-submit]').trigger('click')
    await flushPromises()
    expect(w.find('[data-test=upload-error]').text()).toContain('文件太大，超过了服务器允许的上限。')
    expect(w.find('[data-test=column-chooser]').exists()).toBe(false)
  })

  it('leaves the task to the file by default, and offers the task a refusal says the file looks like in one click', async () => {
    const refusal = new ApiError('missing_columns', 'Could not find the text column. This file looks like generation data.', 422, {
      available: ['messages'],
      suggested_task: 'generation',
      evidence: ['messages'],
    })
    const dataset = { id: 4, name: 'reviews', row_count: 1 } as datasetsApi.Dataset
    vi.mocked(datasetsApi.uploadDataset).mockReset().mockRejectedValueOnce(refusal).mockResolvedValueOnce(dataset)
    const w = mountWith(UploadPanel)
    const file = await chooseFile(w)
    expect(w.find('[data-test=dataset-task] [data-task=auto]').classes()).toContain('is-active')
    await w.find('[data-test=dataset-task] [data-task=pair]').find('input').setValue(true)
    await w.find('[data-test=upload-submit]').trigger('click')
    await flushPromises()
    expect(vi.mocked(datasetsApi.uploadDataset).mock.calls[0][1]).toMatchObject({ task: 'pair' })

    expect(w.find('[data-test=column-chooser]').exists()).toBe(false) // the file is not a table of texts and labels
    expect(w.find('[data-test=suggested-task]').text()).toContain('这个文件看起来是「文本生成」数据（依据：messages）')
    await w.find('[data-test=upload-as-suggested]').trigger('click')
    await flushPromises()
    expect(vi.mocked(datasetsApi.uploadDataset)).toHaveBeenLastCalledWith(file, expect.objectContaining({ task: 'generation' }), expect.any(Function))
    expect(w.emitted('uploaded')?.[0]).toEqual([dataset])
  })
})
