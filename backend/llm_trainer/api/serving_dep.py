"""FastAPI dependency giving routes the app's Serving (model cache, sessions, background threads)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from llm_trainer.services.serving import Serving


def get_serving(request: Request) -> Serving:
    return request.app.state.serving


ServingDep = Annotated[Serving, Depends(get_serving)]
