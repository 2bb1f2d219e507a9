"""Training worker: one OS process (or one torchrun group) per run, started by the scheduler."""
