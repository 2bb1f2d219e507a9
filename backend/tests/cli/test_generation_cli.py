"""The CLI for generation: `train --task generation --file data.jsonl` fine-tunes with LoRA, `chat --model N` answers
one message per stdin line, streamed, remembering the conversation until /reset."""

from __future__ import annotations

from tests.cli.test_task_cli import _cli
from tests.helpers.chat_data import COLOURS, alpaca_jsonl, chat_texts
from tests.helpers.tiny_model import build_tiny_causal_lm


def test_train_generation_from_jsonl_then_chat_answers_each_line(tmp_path, data_dir) -> None:
    base = build_tiny_causal_lm(tmp_path / "base", chat_texts(60))
    path = tmp_path / "问答.jsonl"
    path.write_bytes(alpaca_jsonl(60))
    flags = ["--epochs", "6", "--batch-size", "8", "--learning-rate", "1e-2", "--lora-rank", "16", "--max-length", "64",
             "--lora-dropout", "0.05"]  # fmt: skip
    trained = _cli(data_dir, "train", "--task", "generation", "--file", str(path), "--base-model", str(base), "--wait",
                   *flags)  # fmt: skip
    assert trained.returncode == 0, trained.stdout + trained.stderr
    assert "(generation," in trained.stdout and "model version 1: perplexity" in trained.stdout

    lines = "苹果是什么颜色？（编号0）\n/reset\n香蕉是什么颜色？（编号1）\n"
    done = _cli(data_dir, "chat", "--model", "1", "--temperature", "0", "--max-tokens", "20", stdin=lines)
    assert done.returncode == 0, done.stderr
    answers = done.stdout.strip().splitlines()
    assert len(answers) == 2 and COLOURS["苹果"] in answers[0] and COLOURS["香蕉"] in answers[1], done.stdout
