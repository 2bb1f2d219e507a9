/** The one Axios instance: same-origin base URL and one place that turns error bodies into ApiError. */
import axios, { AxiosError } from 'axios'

/** An error the UI can translate: `code` is the server's stable machine code, `message` its English fallback. */
export class ApiError extends Error {
  readonly code: string
  readonly status: number
  readonly details: Record<string, unknown>

  constructor(code: string, message: string, status = 0, details: Record<string, unknown> = {}) {
    super(message)
    this.name = 'ApiError'
    this.code = code
    this.status = status
    this.details = details
  }
}

interface ErrorBody {
  code?: unknown
  message?: unknown
  details?: unknown
}

/** Map any Axios failure (server error body, network error, timeout) to an ApiError. */
export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err
  if (axios.isCancel(err)) return new ApiError('cancelled', 'The request was cancelled.')
  if (err instanceof AxiosError) {
    const status = err.response?.status ?? 0
    const body = err.response?.data as ErrorBody | undefined
    if (body && typeof body === 'object' && typeof body.code === 'string') {
      const details = body.details && typeof body.details === 'object' ? (body.details as Record<string, unknown>) : {}
      return new ApiError(body.code, String(body.message ?? ''), status, details)
    }
    if (!err.response) return new ApiError('network_error', err.message || 'The server cannot be reached.')
    return new ApiError(`http_${status}`, err.message, status)
  }
  return new ApiError('unknown_error', err instanceof Error ? err.message : String(err))
}

export const http = axios.create({ baseURL: '', timeout: 60_000 })

/** Token mode: a request without a valid session sends the browser to the server's login page. */
export function redirectToLogin(error: ApiError): void {
  if (error.code === 'auth_required' && typeof window !== 'undefined') window.location.assign('/login')
}

http.interceptors.response.use(
  (response) => response,
  (err: unknown) => {
    const error = toApiError(err)
    redirectToLogin(error)
    return Promise.reject(error)
  },
)
