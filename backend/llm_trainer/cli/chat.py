"""`llm-trainer chat`: talk to a generation version in the terminal, answers streamed as they are generated."""

from __future__ import annotations

import argparse
import sys

from llm_trainer.cli.common import add_data_dir

RESET = "/reset"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "chat",
        help="Chat with a generation version (multi-turn, streamed); one message per line, /reset starts over.",
        description='Examples: llm-trainer chat --model 5   |   echo "介绍一下杭州" | llm-trainer chat --model 5',
    )
    p.add_argument("--model", default=None, help="Version id or name (default: the newest generation version).")
    p.add_argument("--system", default=None, help="System prompt put before the conversation.")
    p.add_argument("--temperature", type=float, default=0.7, help="0 = greedy (always the same answer).")
    p.add_argument("--top-p", type=float, default=0.9, help="Nucleus sampling mass.")
    p.add_argument("--max-tokens", type=int, default=256, help="Longest answer in tokens.")
    p.add_argument("--base", action="store_true", help="Answer with the base model, without the fine-tuned adapter.")
    add_data_dir(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from llm_trainer.cli.predict import open_serving
    from llm_trainer.core.errors import AppError
    from llm_trainer.services import generation

    serving = open_serving(args)
    interactive = sys.stdin.isatty()
    history: list[dict[str, str]] = [{"role": "system", "content": args.system}] if args.system else []
    sampling = {"temperature": args.temperature, "top_p": args.top_p, "max_new_tokens": args.max_tokens}
    try:
        version = generation.find_chat_version(serving, args.model)
        if interactive:
            print(f"chatting with version {version.id} ({version.name}); {RESET} starts over, Ctrl-D ends")
        while True:
            if interactive:
                print("> ", end="", flush=True)
            line = sys.stdin.readline()
            if not line:
                return 0
            message = line.rstrip("\n")
            if message.strip() == RESET:
                history = history[:1] if args.system else []
                continue
            if not message.strip():
                continue
            history.append({"role": "user", "content": message})
            call = generation.prepare(serving, version.id, {"messages": history, **sampling},
                                      "base" if args.base else None)  # fmt: skip
            pieces = generation.stream(call)
            for piece in pieces:
                print(piece, end="", flush=True)
            print(flush=True)
            history.append({"role": "assistant", "content": pieces.answer.text})
    except AppError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    finally:
        serving.close()
