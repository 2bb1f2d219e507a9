"""`llm-trainer serve`: run the API and web UI with uvicorn."""

from __future__ import annotations

import argparse

from llm_trainer.cli.common import add_data_dir, settings_from_args


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
    print(f"LLM Trainer: http://{host}:{port}  (API docs: http://{host}:{port}/docs, data: {settings.data_dir})")
    uvicorn.run("llm_trainer.api.app:create_app", factory=True, host=host, port=port, reload=args.reload)
    return 0
