"""The validation split's fixed folds for out-of-fold scoring: multi-label thresholds and the ensemble's weight use
the same ones, so a blend at weight 0 scores exactly what the model alone scores and the two compare row for row."""

from __future__ import annotations

import numpy as np

FOLDS = 5
SEED = 0


def fold_ids(n: int) -> np.ndarray:
    """Each of n rows' fold, 0..FOLDS-1 (seeded: the same rows every time)."""
    return np.random.default_rng(SEED).permutation(n) % FOLDS


def can_hold_out(n: int) -> bool:
    """Enough rows for every fold to be scored by the others (else tune and score in-sample)."""
    return n >= 2 * FOLDS
