"""Domain errors with a stable machine code; mapped to HTTP status in one place (api/errors.py)."""

from __future__ import annotations

from typing import Any


class Stopping(Exception):
    """Work given up because its process is shutting down; the job runs again from the queue, it did not fail."""


class AppError(Exception):
    """Base of every error a user should see: `code` is stable (the UI translates it), `message` is English."""

    status_code = 400
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None, details: dict[str, Any] | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.details = details or {}


class NotFound(AppError):
    status_code = 404
    code = "not_found"


class InvalidInput(AppError):
    """The request is well-formed but its content cannot be used (bad file, bad config...)."""

    status_code = 422
    code = "invalid_input"


class Conflict(AppError):
    status_code = 409
    code = "conflict"


class PayloadTooLarge(AppError):
    status_code = 413
    code = "payload_too_large"


class Unavailable(AppError):
    """Something needed is not reachable right now (hub offline, model missing)."""

    status_code = 503
    code = "unavailable"
