"""transformers resolves its names lazily and not thread-safely: a model load and an export job starting at once in
the server's threads must not fail with "cannot import name ..." (import_transformers resolves them once, locked)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import threading
    from llm_trainer.ml.inference.runtime import TRANSFORMERS_NAMES, import_transformers

    errors = []
    barrier = threading.Barrier(len(TRANSFORMERS_NAMES))

    def first_use(name):
        barrier.wait()
        try:
            import_transformers()
            import transformers

            getattr(transformers, name)
        except Exception as exc:
            errors.append(repr(exc))

    threads = [threading.Thread(target=first_use, args=(n,)) for n in TRANSFORMERS_NAMES]
    [t.start() for t in threads]
    [t.join() for t in threads]
    print(errors)
    """
)


def test_threads_that_load_models_at_the_same_moment_all_find_transformers_names() -> None:
    # Without the lock 2 of 5 fresh processes failed here; four tries make a regression very likely to show.
    for _ in range(4):
        done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120, check=True)
        assert done.stdout.strip() == "[]", done.stdout + done.stderr
