"""Data files of `make bench`: samples of the shared datasets written as `text,label[,split]` CSVs in a scratch dir.

Nothing here is cached: every file is cut from ../shared/datasets at run time (seeded, so runs compare).
"""

from __future__ import annotations

import csv
import random
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATASETS = ROOT.parent / "shared" / "datasets"


def read_rows(name: str) -> list[dict]:
    with (DATASETS / name).open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def write_csv(rows: list[dict], out: Path) -> Path:
    fields = ["text", "label"] + (["split"] if rows and "split" in rows[0] else [])
    with out.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return out


def stratified(rows: list[dict], n: int, seed: int = 0) -> list[dict]:
    """`n` rows (about) in the labels' proportions, every label kept with at least 2 rows."""
    if n >= len(rows):
        return list(rows)
    rng = random.Random(seed)
    by_label: dict[str, list[dict]] = {}
    for r in rows:
        by_label.setdefault(r["label"], []).append(r)
    out = []
    for group in by_label.values():
        rng.shuffle(group)
        out += group[: max(2, round(len(group) * n / len(rows)))]
    rng.shuffle(out)
    return out


def with_split(rows: list[dict], held_out: int, seed: int = 0) -> list[dict]:
    """The rows marked `train` / `validation`, `held_out` of them (stratified) held out."""
    from sklearn.model_selection import train_test_split

    train, val = train_test_split(
        rows, test_size=held_out, stratify=[r["label"] for r in rows], random_state=seed
    )
    return [{**r, "split": "train"} for r in train] + [
        {**r, "split": "validation"} for r in val
    ]


def sample_file(
    name: str, rows: int | None, out: Path, held_out: int | None = None
) -> Path:
    """A stratified sample of a shared CSV (all of it when `rows` is None), with a split column if `held_out`."""
    chosen = stratified(read_rows(name), rows) if rows else read_rows(name)
    return write_csv(with_split(chosen, held_out) if held_out else chosen, out)


def csldcp_file(
    out: Path, labels: int | None = None, per_label: int | None = None
) -> Path:
    """CSLDCP's own train and test splits in one file (split column `train` / `test`): train on train, report on
    test. `labels` keeps only the most frequent labels, `per_label` caps each label's rows per split (quick runs)."""
    train = read_rows("longdoc/csldcp_train.csv")
    test = read_rows("longdoc/csldcp_test.csv")
    keep = {lbl for lbl, _ in Counter(r["label"] for r in train).most_common(labels)}

    def cut(part: list[dict], split: str) -> list[dict]:
        seen: Counter = Counter()
        out = []
        for r in part:
            if r["label"] in keep and (
                per_label is None or seen[r["label"]] < per_label
            ):
                seen[r["label"]] += 1
                out.append({**r, "split": split})
        return out

    return write_csv(cut(train, "train") + cut(test, "test"), out)


def long_texts(min_chars: int, count: int, seed: int = 0) -> list[dict]:
    """`count` labelled texts of at least `min_chars` characters: CSLDCP abstracts of one label (of its 10 largest)
    joined until long enough, for timing steps at a fixed padded length."""
    rows = read_rows("longdoc/csldcp_train.csv") + read_rows("longdoc/csldcp_dev.csv")
    rng = random.Random(seed)
    by_label: dict[str, list[str]] = {}
    for r in rows:
        by_label.setdefault(r["label"], []).append(r["text"])
    labels = sorted(by_label, key=lambda lbl: -len(by_label[lbl]))[:10]
    out = []
    for i in range(count):
        label = labels[i % len(labels)]
        text = ""
        while len(text) < min_chars:
            text += rng.choice(by_label[label])
        out.append({"text": text, "label": label})
    return out


def length_file(out: Path, train_rows: int, held_out: int, min_chars: int) -> Path:
    """Texts all longer than the lengths timed (cut by max_length, so every step has the same padded length)."""
    rows = long_texts(min_chars, train_rows + held_out)
    return write_csv(with_split(rows, held_out), out)


def title_rows_file(out: Path, train_rows: int, held_out: int) -> Path:
    """`train_rows` THUCNews titles to train on plus `held_out` validation rows (the rows-scaling runs)."""
    rows = stratified(read_rows("thucnews_titles_10cls.csv"), train_rows + held_out)
    return write_csv(with_split(rows, held_out), out)


def texts_of_tokens(tokenizer, tokens: int, count: int, seed: int = 0) -> list[str]:
    """`count` real texts cut to exactly `tokens` tokens with the version's tokenizer (special tokens included)."""
    pool = [r["text"] for r in long_texts(tokens * 4, count, seed)]
    out = []
    for text in pool:
        lo, hi = 1, len(text)  # longest character prefix with at most `tokens` tokens
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if len(tokenizer(text[:mid])["input_ids"]) <= tokens:
                lo = mid
            else:
                hi = mid - 1
        out.append(text[:lo])
    return out


def texts_of_chars(chars: int, count: int, seed: int = 0) -> list[str]:
    """`count` real texts of exactly `chars` characters (CSLDCP abstracts, joined where one is too short)."""
    return [r["text"][:chars] for r in long_texts(chars, count, seed)]
