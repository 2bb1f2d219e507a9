"""Multi-label, sentence pairs and NER in a real browser: choose the task on upload, see its report, train a tiny model,
see the task's metrics (and edit multi-label thresholds), then predict with the task's own input and answer."""

from __future__ import annotations

import csv
import io
import json
import random
import re
import time
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import shot
from tests.e2e.data import NEGATIVE, POSITIVE, start_run, wait_run
from tests.helpers.ner_data import ner_records, write_ner_jsonl
from tests.helpers.tiny_model import build_tiny_bert

pytestmark = pytest.mark.browser

ASPECTS = {
    "口味": ["味道很好", "太难吃了"],
    "配送": ["送餐很快", "送餐太慢", "饭都凉了"],
    "包装": ["包装精致", "包装破了"],
}
FAST = {"epochs": 8, "batch_size": 16, "learning_rate": 2e-3, "max_length": 32, "freeze_embeddings": False}


def multi_label_rows(n: int) -> list[tuple[str, str]]:
    rng = random.Random(3)
    rows = []
    for i in range(n):
        chosen = sorted(rng.sample(list(ASPECTS), 1 + i % 2))
        rows.append(("，".join(rng.choice(ASPECTS[a]) for a in chosen) + f"。第{i}单", "|".join(chosen)))
    return rows


def pair_rows(n: int) -> list[tuple[str, str, str]]:
    rng = random.Random(5)
    rows = []
    for i in range(n):
        same = i % 2 == 0
        rows.append((rng.choice(POSITIVE), rng.choice(POSITIVE if same else NEGATIVE) + f"{i}", "1" if same else "0"))
    return rows


def _csv(path: Path, header: tuple[str, ...], rows: list[tuple[str, ...]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _upload_in_browser(page, path: Path, task: str) -> int:
    page.goto("/data")
    page.locator("[data-test=upload-drop] input[type=file]").set_input_files(str(path))
    page.locator(f"[data-test=dataset-task] [data-task={task}]").click()
    page.locator("[data-test=upload-submit]").click()
    page.wait_for_url(re.compile(r"/data/\d+$"), timeout=60_000)
    expect(page.locator("[data-test=validation-report]")).to_be_visible()
    return int(page.url.rsplit("/", 1)[-1])


@pytest.fixture(scope="module")
def tiny_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    texts = [t for t, _ in multi_label_rows(120)] + [a + b for a, b, _ in pair_rows(120)]
    return build_tiny_bert(tmp_path_factory.mktemp("tiny-task-base"), texts)


def test_multi_label_upload_train_metrics_thresholds_and_predict(page, server, tiny_base, tmp_path):
    dataset_id = _upload_in_browser(page, _csv(tmp_path / "aspects.csv", ("text", "labels"), multi_label_rows(120)),
                                    "multi_label")  # fmt: skip
    # The report's multi-label part: how labels were written, labels per text, the pairs seen together.
    expect(page.locator("[data-test=label-form]")).to_contain_text("标签用「|」分隔")
    expect(page.locator("[data-test=labels-per-text]")).to_contain_text("2 个标签")
    expect(page.locator("[data-test=co-occurrence] li").first).to_contain_text(" + ")
    run = start_run(server, dataset_id, str(tiny_base), **FAST)
    assert run["task"] == "multi_label"
    version = wait_run(server, run["id"], {"succeeded"})["model_version_ids"][0]

    page.goto(f"/versions/{version}")
    expect(page.locator("[data-test=metric-micro_f1]")).to_have_text(re.compile(r"\d+\.\d%"))
    expect(page.locator("[data-test=threshold-editor]")).to_be_visible()
    page.locator("[data-test=threshold-mode]").get_by_text("统一阈值").click()
    box = page.locator("[data-test=threshold-global] input")
    box.fill("0.01")
    box.press("Tab")
    page.locator("[data-test=threshold-save]").click()
    expect(page.get_by_text("阈值已保存")).to_be_visible()
    shot(page, "20-multi-label-model")

    page.goto(f"/inference?model={version}")
    page.locator("[data-test=predict-text]").fill("味道很好，送餐太慢")
    page.locator("[data-test=predict]").click()
    answer = page.locator("[data-test=multi-label-answer]")
    expect(answer).to_be_visible(timeout=60_000)
    expect(answer.locator("[data-test=probability-row]")).to_have_count(3)
    # With one threshold of 0.01 every aspect passes: all three are tagged.
    expect(answer.locator("[data-test=probability-row][data-passed=true]")).to_have_count(3)
    shot(page, "21-multi-label-inference")


def _loaded_while_the_user_types(server: str, version: int) -> None:
    """The inference page asks the server to load the chosen version as it opens (nothing else loads a new one)."""
    deadline = time.monotonic() + 60
    while not httpx.get(f"{server}/api/models/{version}").json()["loaded_variants"]:
        assert time.monotonic() < deadline, "opening the inference page did not load the version"
        time.sleep(0.05)


def test_pair_upload_train_metrics_loaded_on_opening_inference_and_predict_two_texts(page, server, tiny_base, tmp_path):
    path = _csv(tmp_path / "pairs.csv", ("句子1", "句子2", "标签"), pair_rows(120))
    dataset_id = _upload_in_browser(page, path, "pair")
    expect(page.locator("[data-test=pair-length-a]")).to_contain_text("平均")  # the report's pair part
    expect(page.locator("[data-test=identical-pairs]")).to_have_text(re.compile(r"^\d+$"))
    run = start_run(server, dataset_id, str(tiny_base), **FAST)
    version = wait_run(server, run["id"], {"succeeded"})["model_version_ids"][0]

    page.goto(f"/versions/{version}")
    expect(page.locator("[data-test=metric-accuracy]")).to_have_text(re.compile(r"\d+\.\d%"))

    page.goto(f"/inference?model={version}")
    _loaded_while_the_user_types(server, version)
    page.locator("[data-test=predict-text-a]").fill("味道很好")
    page.locator("[data-test=predict-text-b]").fill("送餐很快")
    page.locator("[data-test=predict]").click()
    expect(page.locator("[data-test=predicted-label]")).to_have_text(re.compile("^[01]$"), timeout=60_000)
    expect(page.locator("[data-test=probability-row]")).to_have_count(2)
    shot(page, "22-pair-inference")


def test_ner_upload_train_metrics_and_entities_highlighted_at_their_offsets(page, server, tmp_path):
    records = ner_records(150)
    base = build_tiny_bert(tmp_path / "ner-base", [r["text"] for r in records])
    path = write_ner_jsonl(tmp_path / "people.jsonl", records)
    bad = {"text": "坏数据", "entities": [{"start": 1, "end": 9, "label": "city"}]}  # line 151: outside the text
    path.write_text(path.read_text(encoding="utf-8").rstrip("\n") + "\n" + json.dumps(bad, ensure_ascii=False) + "\n",
                    encoding="utf-8")  # fmt: skip
    dataset_id = _upload_in_browser(page, path, "ner")
    report = page.locator("[data-test=ner-report]")
    expect(report.locator("[data-test=entity-count]")).to_have_count(3)  # name, city, company
    expect(report.locator("[data-test=refused-reason][data-code=out_of_range]")).to_contain_text("位置超出文本范围: 1")
    expect(report.locator("[data-test=refused-examples]")).to_contain_text("151")
    shot(page, "23a-ner-dataset-report")
    run = start_run(server, dataset_id, str(base), **{**FAST, "epochs": 15, "learning_rate": 3e-3})
    assert run["task"] == "ner"
    version = wait_run(server, run["id"], {"succeeded"}, timeout=400)["model_version_ids"][0]

    page.goto(f"/versions/{version}")
    expect(page.locator("[data-test=metric-micro_f1]")).to_have_text(re.compile(r"\d+\.\d%"))
    expect(page.locator("[data-test=overview-micro_f1]")).to_have_text(re.compile(r"\d+\.\d%"))
    expect(page.locator("[data-test=task-metrics]")).to_contain_text("实体全对的文本比例")  # what NER's accuracy counts
    # The baseline is the character CRF, and the blend with it was weighed on validation: named so, not TF-IDF.
    expect(page.locator("[data-test=baseline]")).to_contain_text("逐字 CRF")
    expect(page.get_by_text("与 CRF 基线集成")).to_be_visible()
    expect(page.locator("[data-test=ensemble]")).to_contain_text("CRF 基线")
    # The versions list names NER's key metric (entity micro-F1, not accuracy), of whichever variant answers.
    listed = httpx.get(f"{server}/api/models/{version}", timeout=10).json()
    blended = listed["serving_variant"] == "ensemble"
    value = listed["key_metrics"]["ensemble_micro_f1" if blended else "micro_f1"]
    page.goto("/versions")
    cell = page.locator("[data-test=models-table] [data-test=key-metric]").first
    expect(cell).to_contain_text(f"{value * 100:.1f}%")
    expect(cell).to_contain_text("微平均 F1 · 集成" if blended else "微平均 F1")

    text = "我叫李四，住在杭州。"
    page.goto(f"/inference?model={version}")
    page.locator("[data-test=predict-text]").fill(text)
    page.locator("[data-test=predict]").click()
    answer = page.locator("[data-test=ner-answer]")
    expect(answer).to_be_visible(timeout=60_000)
    name = answer.locator("[data-test=entity][data-label=name]")
    expect(name).to_have_count(1)
    expect(name).to_have_attribute("data-start", "2")
    expect(name).to_have_attribute("data-end", "4")
    expect(name).to_contain_text("李四")
    expect(answer.locator("[data-test=entity][data-label=city]")).to_contain_text("杭州")
    expect(answer.locator("[data-test=entity-table] tbody tr")).to_have_count(2)
    expect(page.get_by_text("识别出的实体")).to_be_visible()
    shot(page, "23-ner-inference")

    # A whole file: every row comes back with its entities as JSON, offsets into the row's own text.
    batch = page.locator("[data-test=batch-card]")
    expect(batch.locator("[data-test=batch-hint]")).to_contain_text("entities")
    texts = [text, "今天杭州下雨了"]
    path = tmp_path / "待识别.jsonl"
    path.write_text("\n".join(json.dumps({"text": t}, ensure_ascii=False) for t in texts), encoding="utf-8")
    batch.locator("[data-test=batch] input[type=file]").set_input_files(str(path))
    batch.locator("[data-test=batch-start]").click()
    expect(batch.locator("[data-test=batch-job]")).to_contain_text("已处理 2 / 2", timeout=60_000)
    href = batch.locator("[data-test=batch] a[download]").get_attribute("href")
    rows = list(csv.reader(io.StringIO(httpx.get(server + href).content.decode("utf-8-sig"))))
    assert rows[0] == ["text", "entities"]
    entities = json.loads(rows[1][1])
    assert {"start": 2, "end": 4, "label": "name", "text": "李四"}.items() <= next(
        e for e in entities if e["label"] == "name"
    ).items()
    shot(page, "23b-ner-batch")
