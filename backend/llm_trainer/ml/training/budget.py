"""Fit a CPU training run into a time budget: time a few real steps, then pick max length, epochs or a row share.

The plan is chosen before training from a cost model fitted on this machine (seconds per step = a + b x padded
tokens + c x rows x length^2, measured on the run's own model, batch size and precision), walking a fixed ladder of
cheaper recipes and taking the first that fits. Length goes before epochs (bench/budget.py, 2,000 waimai reviews,
3-minute budget: cutting epochs first lost 6 points; with head+tail truncation a shorter window costs far less):
1. the requested recipe; 2. shorter max lengths down to the length floor (`length_floor`: most texts whole, or
enough head and tail of a long one) at the requested epochs; 3. fewer epochs, down to one, at the floor; 4. shorter
lengths down to MIN_LENGTH at one epoch; 5. a share of the rows, seen once.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field

from llm_trainer.ml.training.data import HEAD_TAIL_ENOUGH

FLOOR_QUANTILE = 0.75  # the length floor keeps at least three texts in four whole, or HEAD_TAIL_ENOUGH tokens
MIN_LENGTH = 32  # shorter inputs lose too much of a review or a paragraph
FORWARD_SHARE = 1 / 3  # evaluation runs the forward pass only, about a third of a training step (backward ~2x)
LENGTH_QUANTILES = (0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3)
MIN_ROW_SHARE = 0.05


class BudgetPlan(BaseModel):
    """What the time budget chose before training, what it costs, and after training how long it really took."""

    budget_s: float = Field(description="The budget for training and evaluation, in seconds.")
    measured_s_per_step: float = Field(description="Measured seconds of one training step at the planned length.")
    measure_s: float = Field(0.0, description="Seconds spent timing the sample steps.")
    requested_max_length: int
    requested_epochs: float
    max_length: int
    epochs: float = Field(description="Planned passes; below 1 a share of the rows is seen once.")
    train_rows: int = Field(description="Training rows in the split.")
    rows_seen: int = Field(description="Rows trained on per pass (all of them unless epochs < 1).")
    truncation_share: float = Field(description="Share of the texts longer than the planned max length.")
    estimated_s: float = Field(description="Estimated seconds of training plus evaluation.")
    fits: bool = Field(description="False when even the cheapest recipe overruns the budget.")
    changed: list[str] = Field(default_factory=list, description="What was lowered: max_length, epochs, rows.")
    message: str = ""
    actual_s: float | None = Field(None, description="Seconds training plus evaluation really took.")


@dataclass(frozen=True)
class StepCost:
    """Seconds of one training step: per_step + per_token x rows x L + per_pair x rows x L^2 (padded length L),
    fitted on measured steps. The L^2 term is attention: on e5-small (batch 32, bf16) a step at 312 tokens took 10.2 s
    against 0.9 s at 78, so a straight line through those two overestimated 128 tokens (1.75 s) threefold."""

    per_step: float
    per_token: float
    per_pair: float = 0.0

    def step(self, rows: int, length: int) -> float:
        return self.per_step + self.per_token * rows * length + self.per_pair * rows * length * length

    @classmethod
    def fit(cls, samples: Sequence[tuple[int, int, float]]) -> StepCost:
        """Non-negative least squares through (rows, length, seconds) samples: the length term needs three distinct
        lengths, the constant two; one sample gives a pure per-token cost."""
        import numpy as np
        from scipy.optimize import nnls

        tokens = [r * n for r, n, _ in samples]
        secs = np.array([s for _, _, s in samples])
        if len(set(tokens)) < 2:
            return cls(0.0, float(secs.sum()) / max(1, sum(tokens)))
        columns = [np.ones(len(samples)), np.array(tokens, dtype=float)]
        if len({n for _, n, _ in samples}) >= 3:
            columns.append(np.array([r * n * n for r, n, _ in samples], dtype=float))
        design = np.stack(columns, axis=1)
        scale = design.max(axis=0)  # the columns differ by orders of magnitude: fit on a comparable scale
        weights = nnls(design / scale, secs)[0] / scale
        per_pair = float(weights[2]) if len(weights) > 2 else 0.0
        return cls(float(weights[0]), max(float(weights[1]), 1e-12 if not per_pair else 0.0), per_pair)


def budget_shapes(max_length: int) -> list[int]:
    """Shorter lengths timed beside the max length: three points fit the length's square term (attention), which
    matters from 64 tokens up; below that two suffice."""
    if max_length >= 64:
        return [max_length // 2, max_length // 4]
    return [max(8, max_length // 4)] if max_length >= 32 else []


def epoch_seconds(
    cost: StepCost, lengths: Sequence[int], max_length: int, batch_size: int, share: float = 1.0
) -> float:
    """One pass over `lengths` (a `share` of them) in length-grouped batches, each padded to its longest text."""
    ordered = sorted(min(n, max_length) for n in lengths)
    total = sum(
        cost.step(len(ordered[i : i + batch_size]), ordered[min(i + batch_size, len(ordered)) - 1])
        for i in range(0, len(ordered), batch_size)
    )
    return total * share


def run_seconds(
    cost: StepCost,
    train_lengths: Sequence[int],
    val_lengths: Sequence[int],
    max_length: int,
    epochs: float,
    batch_size: int,
    evaluations: int,
) -> float:
    """Training passes + `evaluations` validation passes (+1: the version's final fp32 evaluation)."""
    train = epoch_seconds(cost, train_lengths, max_length, batch_size) * epochs
    val = epoch_seconds(cost, val_lengths, max_length, batch_size * 2) * FORWARD_SHARE
    return train + val * (evaluations + 1)


def round_up8(n: float) -> int:
    return max(8, int(-(-n // 8) * 8))


def quantile_length(lengths: Sequence[int], q: float) -> int:
    """The `q` quantile of the token lengths, rounded up to a multiple of 8."""
    ordered = sorted(lengths)
    return round_up8(ordered[min(len(ordered) - 1, int(q * len(ordered)))]) if ordered else MIN_LENGTH


def length_floor(lengths: Sequence[int], start: int) -> int:
    """The shortest max length tried before fewer epochs: the FLOOR_QUANTILE length capped at HEAD_TAIL_ENOUGH,
    never below MIN_LENGTH nor above `start`."""
    return min(start, max(MIN_LENGTH, min(quantile_length(lengths, FLOOR_QUANTILE), HEAD_TAIL_ENOUGH)))


def candidate_lengths(lengths: Sequence[int], start: int) -> list[int]:
    """`start`, then the lengths' quantiles (multiples of 8) and the length floor below it, down to MIN_LENGTH."""
    values = [quantile_length(lengths, q) for q in LENGTH_QUANTILES] if lengths else []
    values += [length_floor(lengths, start), MIN_LENGTH]
    return [start, *sorted({max(min(MIN_LENGTH, start), v) for v in values if v < start}, reverse=True)]


def share_cut(lengths: Sequence[int], max_length: int) -> float:
    return sum(n > max_length for n in lengths) / len(lengths) if lengths else 0.0


def plan_ladder(
    train_lengths: Sequence[int], max_length: int, epochs: float, length_fixed: bool
) -> list[tuple[int, float]]:
    """The (max length, epochs) recipes in the order they are tried: length down to the floor first, then
    epochs at the floor, then length below the floor at one epoch (module docstring)."""
    if length_fixed:
        lengths = [max_length]
        floor = max_length
    else:
        lengths = candidate_lengths(train_lengths, max_length)
        floor = length_floor(train_lengths, max_length)
    above = [n for n in lengths if n >= floor]
    below = [n for n in lengths if n < floor]
    ladder = [(n, epochs) for n in above]
    ladder += [(above[-1], float(e)) for e in range(math.ceil(epochs) - 1, 0, -1) if e < epochs]
    ladder += [(n, min(epochs, 1.0)) for n in below]
    return list(dict.fromkeys(ladder))


def choose_plan(
    cost: StepCost,
    train_lengths: Sequence[int],
    val_lengths: Sequence[int],
    *,
    budget_s: float,
    max_length: int,
    epochs: float,
    batch_size: int,
    length_fixed: bool,
    evaluations_per_epoch: float = 1.0,
) -> BudgetPlan:
    """The first recipe of the ladder (module docstring) whose estimate fits `budget_s`."""
    ladder = plan_ladder(train_lengths, max_length, epochs, length_fixed)
    lengths = sorted({n for n, _ in ladder}, reverse=True)

    def estimate(n: int, e: float) -> float:
        return run_seconds(cost, train_lengths, val_lengths, n, e, batch_size, math.ceil(e * evaluations_per_epoch))

    chosen = next(((n, e) for n, e in ladder if estimate(n, e) <= budget_s), None)
    fits = True
    if chosen is None:  # a share of the rows, seen once, at the shortest length
        n = lengths[-1]
        once = epoch_seconds(cost, train_lengths, n, batch_size)
        evaluations = estimate(n, 1.0) - once  # validation passes cost the same whatever share of rows is trained
        share = math.floor(max(0.0, (budget_s - evaluations) / once) * 20) / 20 if once > 0 else 1.0
        fits = share >= MIN_ROW_SHARE
        chosen = (n, max(share, MIN_ROW_SHARE))
    n, e = chosen
    changed = [name for name, lowered in (("max_length", n < max_length), ("epochs", 1 <= e < epochs)) if lowered]
    if e < min(epochs, 1.0):
        changed.append("rows")
    rows = len(train_lengths)
    return BudgetPlan(
        budget_s=budget_s,
        measured_s_per_step=round(cost.step(batch_size, n), 3),
        requested_max_length=max_length,
        requested_epochs=epochs,
        max_length=n,
        epochs=e,
        train_rows=rows,
        rows_seen=rows if e >= 1 else max(1, round(rows * e)),
        truncation_share=round(share_cut(train_lengths, n), 4),
        estimated_s=round(estimate(n, e), 1),
        fits=fits,
        changed=changed,
    )


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.1f} min"


def describe(plan: BudgetPlan) -> str:
    """The plan in plain words for the run log and the CLI (the UI builds its own, translated, from the fields)."""
    parts = []
    if "max_length" in plan.changed or plan.truncation_share > 0:  # the automatic length can cut texts too
        parts.append(f"texts cut to {plan.max_length} tokens ({plan.truncation_share:.0%} of them)")
    if plan.epochs < 1:
        parts.append(f"{plan.rows_seen:,} of {plan.train_rows:,} rows ({plan.epochs:.0%}), seen once")
    else:
        parts.append(f"{plan.epochs:g} epoch{'s' if plan.epochs != 1 else ''}")
    head = "fits as configured" if not plan.changed else "lowered to fit"
    verdict = "" if plan.fits else "; even this overruns the budget: use a GPU or fewer rows"
    return (
        f"Time budget {plan.budget_s / 60:.3g} min ({head}): {'; '.join(parts)} ≈ {_duration(plan.estimated_s)} "
        f"(a training step takes {plan.measured_s_per_step:.2f} s on this machine){verdict}"
    )


def measure_steps(
    model: Any, batch: dict[str, Any], shapes: Sequence[int], autocast: Any, max_grad_norm: float = 1.0
) -> list[tuple[int, int, float]]:
    """Time whole training steps of `batch` cut to each length in `shapes` (after one untimed warm-up step each):
    forward, backward, gradient clipping, the AdamW step and zeroing the gradients, as the Trainer runs them.

    The optimizer has a learning rate of 0, so its step costs what a real one does but leaves the weights as they
    were; its state is dropped afterwards."""
    import torch

    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    # The Trainer's default optimizer (adamw_torch_fused on torch >= 2.8); weight decay scales with lr, so 0 too.
    optimizer = torch.optim.AdamW(params, lr=0.0, weight_decay=0.01, fused=True)
    samples = []
    rows = int(batch["input_ids"].shape[0])
    for length in shapes:
        part = {k: v[:, :length] if v.dim() == 2 and k != "labels" else v for k, v in batch.items()}
        timed = []
        for repeat in range(3):
            started = time.perf_counter()
            with autocast():
                loss = model(**part).loss
            loss.backward()
            if max_grad_norm:
                torch.nn.utils.clip_grad_norm_(params, max_grad_norm)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            if repeat:  # the first step of each shape pays one-off kernel set-up and allocations
                timed.append(time.perf_counter() - started)
        # The faster of two: on a shared machine a neighbour's burst should not shrink the whole plan.
        samples.append((rows, length, min(timed)))
    optimizer.state.clear()
    return samples
