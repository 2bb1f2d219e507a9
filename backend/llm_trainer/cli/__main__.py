"""Allow `python -m llm_trainer.cli`."""

import sys

from llm_trainer.cli import main

sys.exit(main())
