"""Log in with the access token (token mode): a small page, and the call that sets the session cookie."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

from llm_trainer.api.access import SESSION_COOKIE, session_cookie, token_matches
from llm_trainer.api.deps import SettingsDep
from llm_trainer.api.login_page import LOGIN_HTML
from llm_trainer.core.errors import AppError

router = APIRouter(tags=["auth"])


class LoginRequest(BaseModel):
    token: str = Field(..., max_length=512, description="The server's access token (LLM_TRAINER_TOKEN).")


class TooManyAttempts(AppError):
    status_code = 429
    code = "too_many_attempts"


class InvalidToken(AppError):
    status_code = 401
    code = "invalid_token"


@router.get("/login", include_in_schema=False)
def login_page() -> HTMLResponse:
    return HTMLResponse(LOGIN_HTML)


@router.post("/api/auth/login", status_code=204, summary="Exchange the access token for a session cookie")
def login(body: LoginRequest, request: Request, settings: SettingsDep) -> Response:
    throttle = request.app.state.login_throttle
    client = request.client.host if request.client else "?"
    if throttle.blocked(client):
        raise TooManyAttempts("Too many wrong tokens from this address; wait a minute and try again.")
    if not token_matches(settings, body.token):
        throttle.failed(client)
        raise InvalidToken("Wrong access token. It was printed when the server started (or is LLM_TRAINER_TOKEN).")
    response = Response(status_code=204)
    response.headers.append("set-cookie", session_cookie(body.token).decode())
    return response


@router.post("/api/auth/logout", status_code=204, summary="End the browser session")
def logout() -> Response:
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return response
