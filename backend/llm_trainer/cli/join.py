"""`llm-trainer join-run`: this machine's share of a multi-node run, whose rendezvous the server's machine hosts."""

from __future__ import annotations

import argparse
import subprocess
import sys

from llm_trainer.cli.common import add_data_dir, settings_from_args
from llm_trainer.worker.launch import Nodes, nodes_of, torchrun_command, worker_env


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "join-run",
        help="Train a queued/running multi-node run on this machine too (README 'Scaling out').",
        description="Start this node's worker processes for a run that spans several machines. The server's "
        "machine hosts the rendezvous (LLM_TRAINER_NNODES, LLM_TRAINER_RDZV_ENDPOINT); every node needs the same "
        "database (LLM_TRAINER_DATABASE_URL) and data dir (shared storage).",
    )
    p.add_argument("run_id", type=int, help="The run's id, as shown on its page and in its log.")
    p.add_argument("--rdzv-endpoint", default="", help="host:port of the server's rendezvous (its RDZV_ENDPOINT).")
    p.add_argument("--nnodes", type=int, default=0, help="Machines in the run, this one included (its NNODES).")
    p.add_argument("--nproc-per-node", type=int, default=1, help="Processes on this machine (one per GPU).")
    p.add_argument("--local-addr", default="", help="Address the other nodes reach this machine at.")
    add_data_dir(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    own = nodes_of(settings)
    nodes = Nodes(args.nnodes or own.count, args.rdzv_endpoint or own.endpoint, args.local_addr or own.local_addr)
    if nodes.count < 2 or not nodes.endpoint:
        print(
            "join-run needs --nnodes 2 or more and --rdzv-endpoint host:port, the values of the server's "
            "LLM_TRAINER_NNODES and LLM_TRAINER_RDZV_ENDPOINT.",
            file=sys.stderr,
        )
        return 2
    command = torchrun_command(args.run_id, args.nproc_per_node, nodes, joining=True)
    print(f"Joining run {args.run_id} at {nodes.endpoint} ({nodes.count} nodes); this node's ranks log here.")
    return subprocess.call(command, env=worker_env({}, settings.data_dir, settings.database_url))
