"""Multi-label over the API: the three file forms, the report, training (one-vs-rest TF-IDF and a tiny sigmoid
model), tuned thresholds in the version, and predictions that list every label with pass/fail."""

from __future__ import annotations

import json
import random

import pytest

from tests.helpers.runs import finished, wait_run

ASPECTS = {
    "味道": ["好吃", "味道不错", "难吃"],
    "服务": ["服务很好", "差评"],
    "配送": ["送餐太慢", "太慢了", "饭都凉了"],
}


def label_sets(n: int, seed: int = 0) -> list[tuple[str, list[str]]]:
    rng = random.Random(seed)
    rows = []
    names = list(ASPECTS)
    for i in range(n):
        chosen = sorted(rng.sample(names, 1 + i % 2))
        rows.append(("，".join(rng.choice(ASPECTS[a]) for a in chosen) + f"。{i}", chosen))
    return rows


def upload(client, body: str, filename: str = "ml.csv"):
    return client.post(
        "/api/datasets", files={"file": (filename, body.encode("utf-8"), "text/csv")}, data={"task": "multi_label"}
    )


@pytest.mark.parametrize("sep", ["|", "，", "、", ";"])
def test_joined_labels_are_split_on_the_separator_found_and_reported(client, sep) -> None:
    rows = label_sets(30)
    body = "text,labels\n" + "".join(f'{t},"{sep.join(ls)}"\n' for t, ls in rows)
    resp = upload(client, body)
    assert resp.status_code == 201, resp.text
    dataset = resp.json()
    assert dataset["task"] == "multi_label"
    report = dataset["report"]
    assert report["source"]["multi_label_form"] == {"format": "separated", "separator": sep, "label_column": "labels"}
    assert set(report["label_counts"]) == set(ASPECTS)
    assert report["multi_label"]["labels_per_text"] == {"1": 15, "2": 15}
    assert report["multi_label"]["co_occurrence"][0]["count"] > 0


def test_json_lists_and_wide_zero_one_columns_are_read_as_label_sets(client) -> None:
    rows = label_sets(20)
    as_json = "text,labels\n" + "".join(
        f'{t},"{json.dumps(ls, ensure_ascii=False).replace(chr(34), chr(34) * 2)}"\n' for t, ls in rows
    )
    json_report = upload(client, as_json).json()["report"]
    assert json_report["source"]["multi_label_form"]["format"] == "json_list"
    wide = "text,味道,服务,配送\n" + "".join(f"{t}," + ",".join("1" if a in ls else "0" for a in ASPECTS) + "\n"
                                          for t, ls in rows)  # fmt: skip
    wide_report = upload(client, wide, "wide.csv").json()["report"]
    assert wide_report["source"]["multi_label_form"] == {"format": "wide", "separator": None,
                                                         "label_columns": ["味道", "服务", "配送"]}  # fmt: skip
    assert wide_report["label_counts"] == json_report["label_counts"]


def test_rare_labels_and_conflicting_label_sets_are_reported(client) -> None:
    rows = label_sets(30)
    body = "text,labels\n" + "".join(f'{t},"{"|".join(ls)}"\n' for t, ls in rows)
    body += "只有一次,罕见\n同一句,味道\n同一句,服务\n"
    report = upload(client, body).json()["report"]
    assert report["multi_label"]["rare_labels"]["罕见"] == 1
    assert report["conflicts"]["texts"] == 1
    assert {"rare_labels", "label_conflicts"} <= {w["code"] for w in report["warnings"]}


def test_multi_label_versions_tune_thresholds_and_answer_every_label(client, tiny_model_dir, settings) -> None:
    rows = label_sets(120)
    body = "text,labels\n" + "".join(f'{t},"{"|".join(ls)}"\n' for t, ls in rows)
    dataset = upload(client, body).json()
    versions = {}
    for base in ("tfidf", str(tiny_model_dir)):
        config = {"epochs": 6, "batch_size": 8, "learning_rate": 5e-3, "seed": 1}
        resp = client.post("/train", json={"dataset_id": dataset["id"], "base_model": base, "config": config})
        assert resp.status_code == 201, resp.text
        run = wait_run(client.get, resp.json()["id"], finished, timeout=240)
        assert run["status"] == "succeeded", run["error_message"] + run["log_tail"]
        versions[base] = run["model_version_ids"][0]

    for version in versions.values():
        folder = settings.models_dir / str(version)
        meta = json.loads((folder / "llm_trainer.json").read_text("utf-8"))
        assert meta["task"] == "multi_label"
        assert set(meta["thresholds"]["per_label"]) == set(ASPECTS)
        m = meta["metrics"]
        assert {"micro_f1", "macro_f1", "subset_accuracy", "hamming_loss", "per_class", "at_0_5"} <= set(m)
        assert 0 <= m["hamming_loss"] <= 1 and m["per_class"]["味道"]["support"] > 0
    assert (
        json.loads((settings.models_dir / str(versions["tfidf"]) / "llm_trainer.json").read_text("utf-8"))["metrics"][
            "micro_f1"
        ]
        > 0.8
    )  # the aspects use disjoint words
    model = client.get(f"/api/models/{versions[str(tiny_model_dir)]}").json()
    assert model["task"] == "multi_label" and "micro_f1" in model["key_metrics"]
    assert model["metrics"]["baseline"]["micro_f1"] > 0

    for version in versions.values():
        answer = client.post("/predict", json={"model_id": version, "text": "好吃，送餐太慢"}).json()
        assert answer["task"] == "multi_label"
        assert {p["label"] for p in answer["probabilities"]} == set(ASPECTS)
        assert all(p["passed"] == (p["probability"] >= p["threshold"]) for p in answer["probabilities"])
        assert answer["labels"] == [p["label"] for p in answer["probabilities"] if p["passed"]]


def test_thresholds_edited_on_a_version_change_its_next_answers(client, settings) -> None:
    rows = label_sets(60)
    body = "text,labels\n" + "".join(f'{t},"{"|".join(ls)}"\n' for t, ls in rows)
    dataset = upload(client, body).json()
    resp = client.post("/train", json={"dataset_id": dataset["id"], "base_model": "tfidf", "config": {}})
    version = wait_run(client.get, resp.json()["id"], finished, timeout=120)["model_version_ids"][0]
    detail = client.get(f"/api/models/{version}").json()
    assert set(detail["task_settings"]["thresholds"]["per_label"]) == set(ASPECTS)

    edited = client.patch(f"/api/models/{version}/settings", json={"thresholds": {"mode": "global", "global": 0.01}})
    assert edited.status_code == 200, edited.text
    assert edited.json()["task_settings"]["thresholds"]["mode"] == "global"
    answer = client.post("/predict", json={"model_id": version, "text": "好吃"}).json()
    assert sorted(answer["labels"]) == sorted(ASPECTS), "a threshold of 0.01 lets every label pass"

    bad = client.patch(f"/api/models/{version}/settings", json={"thresholds": {"mode": "global", "global": 1.5}})
    assert bad.status_code == 422 and bad.json()["code"] == "invalid_thresholds"
