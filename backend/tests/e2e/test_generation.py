"""Generation in a real browser: upload a small Alpaca JSONL as 文本生成, see its report, train a tiny local causal LM
with LoRA, watch the loss curve and the live sample answers on the run page, see the version's perplexity and its
merged download, chat with it (the answer streams in), stop an answer midway (the text so far stays), and compare it
side by side with the base model."""

from __future__ import annotations

import re
from contextlib import suppress
from pathlib import Path

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect

from tests.e2e.conftest import shot
from tests.e2e.data import start_run, wait_run
from tests.helpers.chat_data import alpaca_jsonl, chat_texts
from tests.helpers.tiny_model import build_tiny_causal_lm

pytestmark = pytest.mark.browser

CHAT_INPUT = "textarea[data-test=chat-input], [data-test=chat-input] textarea"  # el-input hands attrs to its textarea
MAX_TOKENS = "input[data-test=chat-max-tokens], [data-test=chat-max-tokens] input"
TRAIN = {"epochs": 6, "batch_size": 8, "learning_rate": 1e-2, "lora_rank": 16, "max_length": 64, "eval_answers": 8}


def test_generation_upload_train_watch_samples_chat_stop_and_compare(page, server, tmp_path: Path) -> None:
    base = build_tiny_causal_lm(tmp_path / "tiny-causal", chat_texts(60), context=4096)  # room for a long answer
    path = tmp_path / "水果颜色.jsonl"
    path.write_bytes(alpaca_jsonl(60))

    page.goto("/data")
    page.locator("[data-test=upload-drop] input[type=file]").set_input_files(str(path))
    page.locator("[data-test=dataset-task] [data-task=generation]").click()
    page.locator("[data-test=upload-submit]").click()
    page.wait_for_url(re.compile(r"/data/\d+$"), timeout=60_000)
    report = page.locator("[data-test=generation-report]")
    expect(report).to_contain_text("alpaca")
    expect(report).to_contain_text("60")
    expect(page.locator("[data-test=token-lengths-missing]")).to_contain_text("Gemma 3 270M")  # not prepared here
    shot(page, "30-generation-dataset-report")
    dataset_id = int(page.url.rsplit("/", 1)[-1])

    run = start_run(server, dataset_id, str(base), **TRAIN)
    assert run["task"] == "generation"
    page.goto(f"/training/runs/{run['id']}")
    samples = page.locator("[data-test=sample-answers]")
    expect(samples).to_be_visible(timeout=240_000)  # after the base model's evaluation
    expect(page.locator("[data-test=loss-chart]")).to_be_visible(timeout=240_000)
    version_id = wait_run(server, run["id"], {"succeeded"}, timeout=400)["model_version_ids"][0]
    expect(page.locator("[data-test=open-version]")).to_be_visible(timeout=30_000)
    expect(samples.locator("[data-test=sample-answer]").first).to_contain_text("色")  # the tuned answers
    expect(samples.locator("[data-test=sample-base]").first).not_to_have_text("—")
    shot(page, "31-generation-run-samples")

    page.goto(f"/versions/{version_id}")
    expect(page.locator("[data-test=overview-perplexity]")).to_have_text(re.compile(r"^\d+(\.\d+)?$"))
    expect(page.locator("[data-test=metric-rouge_l]")).to_have_text(re.compile(r"\d+\.\d%"))
    merged = page.locator("a:has([data-test=download-merged])")
    expect(merged).to_have_attribute("href", f"/api/models/{version_id}/download?merged=true")
    shot(page, "32-generation-version")

    page.locator("[data-test=chat-with]").click()
    page.wait_for_url(re.compile(rf"/chat\?model={version_id}$"))
    slider_input = page.locator("[data-test=chat-temperature] input")
    slider_input.fill("0")
    slider_input.press("Tab")
    page.locator(CHAT_INPUT).fill("苹果是什么颜色？（编号6）")
    page.locator("[data-test=chat-send]").click()
    answer = page.locator("[data-test=chat-answer-tuned]").last
    expect(answer.locator("[data-test=chat-answer-text]")).to_contain_text("红色", timeout=120_000)
    expect(answer.locator("[data-test=chat-stats]")).to_contain_text("token", timeout=60_000)
    expect(answer).not_to_contain_text("截断")  # a short prompt is not cut
    shot(page, "33-generation-chat")

    # Stop midway, side by side with the base model: the tuned model ends its turn after a few words, the untrained
    # base model rambles on (hot sampling, up to 4,096 tokens) until stopped.
    page.locator("[data-test=chat-compare]").click()
    slider_input.fill("2")
    slider_input.press("Tab")
    page.locator(MAX_TOKENS).fill("4096")
    page.locator(MAX_TOKENS).press("Tab")
    for _ in range(5):  # a tiny model writes hundreds of tokens a second: now and then it ends before the click
        page.locator(CHAT_INPUT).fill("讲一个很长很长的故事")
        page.locator("[data-test=chat-send]").click()
        stopped = page.locator("[data-test=chat-answer-base]").last
        expect(stopped.locator("[data-test=chat-answer-text]")).not_to_have_text(re.compile(r"^\s*▍?$"), timeout=60_000)
        with suppress(PlaywrightTimeout):
            page.locator("[data-test=chat-stop]").click(timeout=3_000)
        expect(page.locator("[data-test=chat-send]")).to_be_visible(timeout=60_000)
        if "已停止" in stopped.locator("[data-test=chat-stats]").inner_text():
            break
    expect(stopped.locator("[data-test=chat-stats]")).to_contain_text("已停止")
    kept = stopped.locator("[data-test=chat-answer-text]").inner_text()
    assert kept.strip(), "the text written before the stop is kept"
    shot(page, "34-generation-chat-stopped")

    page.locator("[data-test=chat-clear]").click()
    slider_input.fill("0")
    slider_input.press("Tab")
    expect(slider_input).to_have_value(re.compile(r"^0(\.0+)?$"))
    page.locator(MAX_TOKENS).fill("32")
    page.locator(MAX_TOKENS).press("Tab")
    page.locator(CHAT_INPUT).fill("苹果是什么颜色？（编号6）")
    page.locator("[data-test=chat-send]").click()
    tuned = page.locator("[data-test=chat-answer-tuned] [data-test=chat-answer-text]")
    base_answer = page.locator("[data-test=chat-answer-base] [data-test=chat-answer-text]")
    expect(tuned).to_contain_text("红色", timeout=120_000)
    expect(page.locator("[data-test=chat-answer-base] [data-test=chat-stats]")).to_contain_text("token", timeout=60_000)
    assert base_answer.inner_text() != tuned.inner_text()  # the base model has not learned the pattern
    shot(page, "35-generation-chat-compare")
