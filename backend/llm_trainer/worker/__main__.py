"""`python -m llm_trainer.worker <run_id>`: train one run and record the outcome in the database."""

from __future__ import annotations

import sys

from llm_trainer.worker.runner import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
