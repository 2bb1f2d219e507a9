"""The CPU time budget: the plan lowers length, then epochs, then rows until it fits, says so, and is applied."""

from __future__ import annotations

import contextlib
import random
from typing import Any

import pytest

from llm_trainer.ml.training.budget import (
    HEAD_TAIL_ENOUGH,
    StepCost,
    budget_shapes,
    candidate_lengths,
    choose_plan,
    describe,
    length_floor,
    measure_steps,
    plan_ladder,
)
from llm_trainer.ml.training.config import TrainingConfig
from llm_trainer.ml.training.data import Split
from llm_trainer.ml.training.trainer import BUDGET_PLAN, TrainJob, train_transformer

# 1,000 texts with a long tail like reviews (median 61 tokens, p95 165); a made-up machine where a step costs
# 0.05 s + 1e-4 s per padded token.
_rng = random.Random(0)
LENGTHS = [min(400, max(10, int(_rng.lognormvariate(4.1, 0.6)))) for _ in range(1000)]
VAL = LENGTHS[:200]
COST = StepCost(0.05, 1e-4)


def plan(budget_s: float, **kw: Any):
    args = {"max_length": 160, "epochs": 3.0, "batch_size": 32, "length_fixed": False, **kw}
    return choose_plan(COST, LENGTHS, VAL, budget_s=budget_s, **args)


def test_a_generous_budget_keeps_the_requested_recipe_and_still_names_the_cut_texts():
    p = plan(10_000)
    assert (p.max_length, p.epochs, p.changed, p.fits) == (160, 3.0, [], True)
    assert p.estimated_s <= 10_000 and "fits as configured" in describe(p)
    assert p.truncation_share > 0, "LENGTHS has texts over 160 tokens"
    # the automatic length cut texts, not the budget: the plan still says so
    assert f"texts cut to 160 tokens ({p.truncation_share:.0%} of them); 3 epochs" in describe(p)


def test_a_tighter_budget_cuts_length_first_and_says_how_many_texts_are_cut():
    full = plan(10_000).estimated_s
    p = plan(full * 0.95)
    assert p.epochs == 3.0 and p.max_length < 160 and p.changed == ["max_length"]
    assert 0 < p.truncation_share <= 0.25 and p.estimated_s <= full * 0.95
    assert f"texts cut to {p.max_length} tokens ({p.truncation_share:.0%} of them); 3 epochs" in describe(p)


def test_length_goes_down_to_the_floor_before_any_epoch_is_dropped():
    floor = length_floor(LENGTHS, 160)
    at_floor = plan(10_000, max_length=floor).estimated_s
    p = plan(at_floor * 1.01)  # fits at the floor with every epoch, not one step above it
    assert (p.max_length, p.epochs, p.changed) == (floor, 3.0, ["max_length"])
    assert p.truncation_share <= 0.25  # the floor keeps three texts in four whole


def test_the_ladder_cuts_length_then_epochs_at_the_floor_then_length_below_it_at_one_epoch():
    floor = length_floor(LENGTHS, 160)
    ladder = plan_ladder(LENGTHS, 160, 3.0, length_fixed=False)
    full_epochs = [n for n, e in ladder if e == 3.0]
    assert full_epochs == sorted(full_epochs, reverse=True) and full_epochs[0] == 160 and full_epochs[-1] == floor
    first_fewer = next(i for i, (_, e) in enumerate(ladder) if e < 3.0)
    assert ladder[first_fewer : first_fewer + 2] == [(floor, 2.0), (floor, 1.0)]
    assert all(e == 1.0 and n < floor for n, e in ladder[first_fewer + 2 :]) and ladder[-1] == (32, 1.0)


def test_the_length_floor_keeps_most_short_texts_whole_and_caps_long_ones_at_a_head_and_tail():
    short = [20] * 70 + [60] * 30  # p75 = 60 tokens
    assert length_floor(short, 160) == 64
    long_docs = [600] * 100
    assert length_floor(long_docs, 512) == HEAD_TAIL_ENOUGH
    assert length_floor(long_docs, 96) == 96  # never above what was asked
    assert length_floor([5] * 100, 160) == 32  # never below the minimum either


def test_then_fewer_epochs_then_a_share_of_the_rows_seen_once():
    full = plan(10_000).estimated_s
    fewer = plan(full * 0.5)
    assert fewer.epochs in (1.0, 2.0) and "epochs" in fewer.changed
    tiny = plan(full * 0.05)
    assert tiny.epochs < 1 and "rows" in tiny.changed and tiny.max_length == 32
    assert tiny.rows_seen < tiny.train_rows and f"{tiny.rows_seen:,} of 1,000 rows" in describe(tiny)
    assert tiny.estimated_s <= full * 0.05  # the share leaves room for the validation passes
    hopeless = plan(0.01)
    assert not hopeless.fits and "overruns" in describe(hopeless)


def test_a_max_length_the_user_chose_is_kept():
    full = plan(10_000).estimated_s
    p = plan(full * 0.5, length_fixed=True)
    assert p.max_length == 160 and "max_length" not in p.changed and p.epochs < 3


def test_cost_model_is_fitted_from_measured_steps_and_lengths_stay_multiples_of_8():
    fitted = StepCost.fit([(32, 64, 0.05 + 1e-4 * 32 * 64), (32, 256, 0.05 + 1e-4 * 32 * 256)])
    assert fitted.per_step == pytest.approx(0.05) and fitted.per_token == pytest.approx(1e-4)
    lengths = candidate_lengths(LENGTHS, 160)
    assert lengths[0] == 160 and lengths == sorted(lengths, reverse=True) and lengths[-1] == 32
    assert all(n % 8 == 0 for n in lengths[1:])


def test_a_step_cost_growing_with_the_length_squared_is_not_overestimated_between_the_timed_lengths():
    # e5-small, batch 32, bf16 on this 2-core CPU: 0.9 s at 78 tokens, 2.6 s at 156, 10.2 s at 312; 1.75 s at 128.
    timed = [(32, 312, 10.2), (32, 156, 2.6), (32, 78, 0.9)]
    assert [length for _, length, _ in timed] == [312, *budget_shapes(312)]
    assert StepCost.fit(timed).step(32, 128) == pytest.approx(1.75, rel=0.15)
    assert StepCost.fit(timed[::2]).step(32, 128) > 2.5  # a straight line through two lengths: what plans used


def test_timed_steps_include_the_optimizer_and_leave_the_weights_unchanged(tiny_model_dir):
    import torch
    from transformers import AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_pretrained(tiny_model_dir, num_labels=2)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    batch = {"input_ids": torch.randint(5, 50, (4, 16)), "attention_mask": torch.ones(4, 16, dtype=torch.long),
             "labels": torch.tensor([0, 1, 0, 1])}  # fmt: skip
    samples = measure_steps(model, batch, [16, 8], contextlib.nullcontext)
    assert [(rows, length) for rows, length, _ in samples] == [(4, 16), (4, 8)] and all(s > 0 for *_, s in samples)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert all(p.grad is None for p in model.parameters())


class Collect:
    def __init__(self) -> None:
        self.snapshots: list[dict] = []
        self.lines: list[str] = []

    def progress(self, snapshot: dict) -> None:
        self.snapshots.append(snapshot)

    def metric(self, kind: str, step: int, epoch: float, values: dict) -> None:
        pass

    def stop_requested(self) -> bool:
        return False

    def info(self, message: str) -> None:
        self.lines.append(message)


def _split() -> Split:
    rng = random.Random(0)
    pos, neg = ["好吃", "不错", "服务很好"], ["难吃", "差评", "太慢了"]
    words = [pos if i % 2 else neg for i in range(48)]
    rows = [("，".join(rng.choice(w) for _ in range(rng.randint(10, 30))), "好" if w is pos else "差") for w in words]
    return Split([t for t, _ in rows[:40]], [y for _, y in rows[:40]], [t for t, _ in rows[40:]],
                 [y for _, y in rows[40:]], ["好", "差"])  # fmt: skip


def _train(tmp_path, model_dir, **config):
    reporter = Collect()
    cfg = TrainingConfig(device="cpu", batch_size=8, save_strategy="no", fast_serving=False, **config)
    job = TrainJob(str(model_dir), cfg, _split(), tmp_path / "run", tmp_path / "cache")
    return train_transformer(job, reporter), reporter, job


def test_a_tiny_budget_trains_fewer_epochs_on_shorter_texts_and_records_the_plan(tmp_path, tiny_model_dir):
    outcome, reporter, job = _train(tmp_path, tiny_model_dir, epochs=3, time_budget_minutes=0.0001)
    plan = outcome.time_budget
    assert plan is not None and plan.requested_epochs == 3 and plan.epochs < 3
    assert plan.max_length < plan.requested_max_length and outcome.max_length == plan.max_length
    assert outcome.global_step < 3 * 5  # 40 rows / batch 8 = 5 steps per epoch: fewer than asked were run
    assert plan.actual_s is not None and plan.actual_s > 0
    assert any(line.startswith("Time budget 0.0001 min (lowered to fit)") for line in reporter.lines)
    assert [s["time_budget"]["epochs"] for s in reporter.snapshots if "time_budget" in s][0] == plan.epochs
    assert (job.work_dir / BUDGET_PLAN).is_file() and outcome.run_facts()["time_budget"]["actual_s"] == plan.actual_s


def test_without_a_budget_nothing_is_measured_or_changed(tmp_path, tiny_model_dir):
    outcome, reporter, _ = _train(tmp_path, tiny_model_dir, epochs=1, time_budget_minutes=0)
    assert outcome.time_budget is None and outcome.global_step == 5
    assert not any("Time budget" in line for line in reporter.lines)
    assert not any(s.get("phase") == "measuring" for s in reporter.snapshots)
