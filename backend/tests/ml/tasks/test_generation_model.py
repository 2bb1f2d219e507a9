"""Generation training pieces: labels on the assistant turns only (with their end-of-turn marker), serving's prompt
tokens equal training's, and the loss from the kept logits equals the full-vocabulary-at-every-position loss."""

from __future__ import annotations

from pathlib import Path

import pytest

from llm_trainer.ml.tasks.generation.chat import IGNORE, encode, prompt_ids, stop_token_ids
from tests.helpers.chat_data import chat_texts
from tests.helpers.tiny_model import build_tiny_causal_lm

CONVERSATION = [
    {"role": "system", "content": "你是助手"},
    {"role": "user", "content": "苹果是什么颜色？"},
    {"role": "assistant", "content": "红色"},
    {"role": "user", "content": "香蕉呢？"},
    {"role": "assistant", "content": "黄色"},
]


def test_only_assistant_turns_and_their_end_marker_are_labelled(tiny_chat_lm) -> None:
    tokenizer, _ = tiny_chat_lm
    encoded = encode(tokenizer, CONVERSATION, 256)
    labelled = tokenizer.decode([t for t, y in zip(encoded.input_ids, encoded.labels, strict=True) if y != IGNORE])
    assert labelled == "红色<end_of_turn>\n黄色<end_of_turn>\n"
    assert tokenizer.convert_tokens_to_ids("<end_of_turn>") in stop_token_ids(tokenizer)
    first_answer = encoded.labels.index(next(y for y in encoded.labels if y != IGNORE))
    assert encoded.input_ids[:first_answer] == prompt_ids(tokenizer, CONVERSATION[:2])  # what serving feeds


def test_a_cut_conversation_keeps_its_start_and_reports_its_full_length(tiny_chat_lm) -> None:
    tokenizer, _ = tiny_chat_lm
    full = encode(tokenizer, CONVERSATION, 256)
    cut = encode(tokenizer, CONVERSATION, 20)
    assert len(cut.input_ids) == 20 and cut.input_ids == full.input_ids[:20] and cut.full_length == full.full_length


def test_loss_on_kept_logits_equals_the_full_logits_loss(tiny_chat_lm) -> None:
    import torch

    from llm_trainer.ml.tasks.generation.training import ChatCollator, causal_loss

    tokenizer, model = tiny_chat_lm
    items = [encode(tokenizer, CONVERSATION, 256), encode(tokenizer, CONVERSATION[:3], 256)]
    features = [{"input_ids": e.input_ids, "labels": e.labels} for e in items]
    kept = ChatCollator(tokenizer.pad_token_id)(features)
    full = ChatCollator(tokenizer.pad_token_id, keep_logits=False)(features)
    with torch.no_grad():
        small = model(input_ids=kept["input_ids"], attention_mask=kept["attention_mask"],
                      logits_to_keep=kept["logits_to_keep"])  # fmt: skip
        big = model(input_ids=full["input_ids"], attention_mask=full["attention_mask"])
        reference = model(**full).loss  # transformers' own shifted causal-LM loss
    assert small.logits.shape[1] < big.logits.shape[1]
    assert causal_loss(small, kept["labels"]).item() == pytest.approx(reference.item(), rel=1e-5)
    assert causal_loss(big, full["labels"]).item() == pytest.approx(reference.item(), rel=1e-5)


def test_labelled_positions_loss_equals_the_full_logits_loss(tiny_chat_lm) -> None:
    import torch

    from llm_trainer.ml.tasks.generation.training import ChatCollator, labelled_loss

    tokenizer, model = tiny_chat_lm
    items = [encode(tokenizer, CONVERSATION, 256), encode(tokenizer, CONVERSATION[:3], 256)]
    batch = ChatCollator(tokenizer.pad_token_id, keep_logits=False)(
        [{"input_ids": e.input_ids, "labels": e.labels} for e in items]
    )
    with torch.no_grad():
        reference = model(**batch).loss
        assert labelled_loss(model, batch).item() == pytest.approx(reference.item(), rel=1e-5)


def test_lora_training_and_evaluation_through_the_fused_head_get_the_stock_loss_and_gradients(
    tiny_chat_lm, monkeypatch
) -> None:
    import copy

    import torch

    from llm_trainer.ml.tasks.generation import training
    from llm_trainer.ml.training.config import TrainingConfig

    tokenizer, model = tiny_chat_lm
    lora = training._with_lora(copy.deepcopy(model), TrainingConfig(lora_dropout=0.0))  # the fixture stays plain
    for p in lora.parameters():  # peft starts B at zero, which would leave A's gradient zero on both sides
        if p.requires_grad:
            torch.nn.init.normal_(p, std=0.1)
    items = [encode(tokenizer, CONVERSATION, 256), encode(tokenizer, CONVERSATION[:3], 256)]
    batch = training.ChatCollator(tokenizer.pad_token_id, keep_logits=False)(
        [{"input_ids": e.input_ids, "labels": e.labels} for e in items]
    )
    trained = [p for p in lora.parameters() if p.requires_grad]

    def loss_and_grads(loss_of) -> tuple[float, list]:  # noqa: ANN001
        lora.zero_grad(set_to_none=True)
        loss = loss_of()
        loss.backward()
        return loss.item(), [p.grad.clone() for p in trained]

    monkeypatch.setattr(training, "HEAD_CHUNK", 3)  # several chunks, the last one short
    fused, fused_grads = loss_and_grads(lambda: training.labelled_loss(lora, batch))
    stock, stock_grads = loss_and_grads(lambda: lora(**batch).loss)
    assert fused == pytest.approx(stock, rel=1e-5)
    for mine, theirs in zip(fused_grads, stock_grads, strict=True):
        torch.testing.assert_close(mine, theirs, rtol=1e-4, atol=1e-6)
    with torch.no_grad():  # evaluation takes the same path, without computing gradients
        assert training.labelled_loss(lora, batch).item() == pytest.approx(stock, rel=1e-5)


def test_a_resumed_lora_run_continues_from_its_checkpoint_and_keeps_the_base_comparison(tmp_path: Path) -> None:
    import json

    from llm_trainer.ml.tasks.generation.spec import split_conversations
    from llm_trainer.ml.tasks.generation.training import train_generation_version
    from llm_trainer.ml.tasks.spec import ModelJob, TaskRow
    from llm_trainer.ml.training.config import TrainingConfig
    from llm_trainer.worker.reporter import NullReporter
    from tests.helpers.chat_data import alpaca_records

    base = build_tiny_causal_lm(tmp_path / "base", chat_texts(30))
    rows = [TaskRow(r["instruction"], "1 turn", None, None, json.dumps([
        {"role": "user", "content": r["instruction"]}, {"role": "assistant", "content": r["output"]}
    ], ensure_ascii=False)) for r in alpaca_records(30)]  # fmt: skip
    outcomes = []
    for epochs, resume in ((1, False), (2, True)):
        cfg = TrainingConfig(epochs=epochs, batch_size=8, learning_rate=1e-2, max_length=64, sample_prompts=0)
        job = ModelJob(str(base), cfg, tmp_path / "run", tmp_path / "cache", resume=resume)
        outcomes.append(train_generation_version(split_conversations(rows, cfg), job, NullReporter()).metrics)
    first, resumed = outcomes
    assert resumed["resumed_from_step"] == first["global_step"] > 0
    assert resumed["global_step"] == 2 * first["global_step"]
    assert resumed["baseline"] == first["baseline"] and resumed["loss"] < first["baseline"]["loss"]
