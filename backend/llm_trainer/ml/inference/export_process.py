"""`python -m llm_trainer.ml.inference.export_process <version_dir> <out>`: trace one version to an ONNX graph.

The exporter (torch.export/dynamo) keeps process-wide tracing state that a model loading in another thread of the
same process trips over, so a server builds its graphs here, in a process of its own.
"""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

from llm_trainer.ml.inference import export
from llm_trainer.ml.inference.runtime import configure_torch


def _exit_with_parent() -> None:
    """The parent holds our stdin open and never writes: end of file means it is gone, and so is its build."""
    while os.read(0, 4096):  # the raw descriptor: a buffered reader's lock would abort the interpreter's exit
        pass
    os._exit(3)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    threading.Thread(target=_exit_with_parent, name="parent-watchdog", daemon=True).start()
    configure_torch()
    export._export_fp32(Path(argv[0]), Path(argv[1]))  # looked up on the module at call time (tests hook it)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
