import { AxiosError, AxiosHeaders } from 'axios'
import { describe, expect, it } from 'vitest'

import { ApiError, toApiError } from '@/api/http'
import { withSetup } from '@/test/setup'

import { useApiError } from './useApiError'

function axiosFailure(status: number, data: unknown): AxiosError {
  const config = { headers: new AxiosHeaders() }
  return new AxiosError('Request failed', 'ERR_BAD_RESPONSE', config, null, {
    status,
    statusText: '',
    data,
    headers: {},
    config,
  })
}

describe('toApiError', () => {
  it('reads the server error body into code, message, details and status', () => {
    const e = toApiError(axiosFailure(422, { code: 'missing_columns', message: 'No label', details: { available: ['a'] } }))
    expect(e).toBeInstanceOf(ApiError)
    expect(e.code).toBe('missing_columns')
    expect(e.status).toBe(422)
    expect(e.details).toEqual({ available: ['a'] })
  })

  it('calls a failure without a response a network error', () => {
    const err = new AxiosError('Network Error', 'ERR_NETWORK', { headers: new AxiosHeaders() })
    expect(toApiError(err).code).toBe('network_error')
  })
})

describe('useApiError', () => {
  it('translates a known code and keeps the server message beside it', () => {
    const { result } = withSetup(() => useApiError())
    const text = result.describe(new ApiError('dataset_not_found', 'Dataset 7 does not exist.', 404))
    expect(text).toBe('数据集不存在（可能已被删除）。 (Dataset 7 does not exist.)')
  })

  it('translates into English when the UI is English', () => {
    const { result } = withSetup(() => useApiError(), 'en')
    expect(result.describe(new ApiError('too_few_labels', ''))).toBe('A classifier needs at least 2 different labels.')
  })

  it('falls back to the server message for a code it does not know', () => {
    const { result } = withSetup(() => useApiError())
    expect(result.describe(new ApiError('brand_new_code', 'Something specific went wrong.'))).toBe(
      'Something specific went wrong.',
    )
  })
})
