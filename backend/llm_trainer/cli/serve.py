"""`llm-trainer serve`: run the API and web UI with uvicorn."""

from __future__ import annotations

import argparse
import os
import secrets

from llm_trainer.api.access import is_loopback_bind
from llm_trainer.cli.common import add_data_dir, settings_from_args
from llm_trainer.core.config import get_settings


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="Start the web server (API, Swagger at /docs, web UI).")
    p.add_argument("--host", default=None, help="Interface to listen on (default 127.0.0.1).")
    p.add_argument("--port", type=int, default=None, help="Port to listen on (default 8000).")
    p.add_argument("--reload", action="store_true", help="Reload on code changes (development).")
    add_data_dir(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import uvicorn

    settings = settings_from_args(args)
    host = args.host or settings.host
    port = args.port or settings.port
    login = ""
    if not is_loopback_bind(host) and not settings.token:
        # Reachable from other machines: never without a token. Generated here, as Jupyter does, and printed once.
        os.environ["LLM_TRAINER_TOKEN"] = secrets.token_urlsafe(24)
        get_settings.cache_clear()
        settings = get_settings()
        login = f"/?token={settings.token}"
        print(
            f"LLM Trainer listens on {host}, which other machines can reach, and LLM_TRAINER_TOKEN is not set: "
            "generated an access token for this run. Set LLM_TRAINER_TOKEN to choose your own."
        )
    elif settings.token:
        print("LLM Trainer: access token required (LLM_TRAINER_TOKEN); log in at /login.")
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    address = f"[{shown}]" if ":" in shown else shown  # an IPv6 literal goes in brackets in a URL
    os.environ["LLM_TRAINER_SERVER_URL"] = f"http://{address}:{port}"  # announced to CLIs on this data dir
    get_settings.cache_clear()
    print(
        f"LLM Trainer: http://{shown}:{port}{login}  (API docs: http://{shown}:{port}/docs, data: {settings.data_dir})"
    )
    uvicorn.run("llm_trainer.api.app:create_app", factory=True, host=host, port=port, reload=args.reload)
    return 0
