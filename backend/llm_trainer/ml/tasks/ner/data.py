"""NER files and their validation: JSONL spans, the CLUENER layout, Label Studio exports, CoNLL BIO/BIOES/BMES.

Every reader yields `NerRecord`s (text, spans with exclusive end, file line); `NerValidator` checks them and builds
the report (`ner` section: entity counts per type, texts without entities, refused rows with their line numbers).
Texts are stored exactly as read (never trimmed): offsets point into them.
"""

from __future__ import annotations

import json
from array import array
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llm_trainer.core.errors import InvalidInput, PayloadTooLarge
from llm_trainer.datafiles import limits
from llm_trainer.datafiles.columns import normalize_split
from llm_trainer.datafiles.reader import detect_encoding, numbered_objects, open_table
from llm_trainer.datafiles.sample import FileSample
from llm_trainer.datafiles.validate import MAX_EXAMPLES, RowTally, issue, length_stats, normalize_label
from llm_trainer.ml.tasks.ner.tags import detect_scheme, is_valid_tag, summary, tags_to_spans
from llm_trainer.ml.tasks.spec import Ingest

MAX_LINES = 200  # refused line numbers listed in the report
CONLL_SAMPLE_LINES = 2000
JSON_FORMATS = ("jsonl", "json")


@dataclass
class NerRecord:
    line: int  # 1-based line (JSONL, CoNLL: the sentence's first line) or record number (JSON array)
    text: str
    spans: list[tuple[Any, Any, Any, Any]] = field(default_factory=list)  # (start, end, label, mention or None)
    split: str | None = None
    error: str | None = None  # why the record could not be read (malformed)


# --- readers ---------------------------------------------------------------------------------------------------


def _spans_of_object(obj: dict[str, Any]) -> tuple[str, list, str | None]:
    """(layout, spans, error) of one JSON object in any of the JSON layouts."""
    if isinstance(obj.get("entities"), list):
        spans = []
        for e in obj["entities"]:
            if not isinstance(e, dict):
                return "spans", [], "an entity is not an object"
            label = e.get("label", e.get("type"))
            spans.append((e.get("start"), e.get("end"), label, e.get("text", e.get("mention"))))
        return "spans", spans, None
    if isinstance(obj.get("label"), dict):  # CLUENER: {type: {mention: [[start, end_inclusive], ...]}}
        spans = []
        for kind, mentions in obj["label"].items():
            if not isinstance(mentions, dict):
                return "cluener", [], f"label '{kind}' does not map mentions to offsets"
            for mention, offsets in mentions.items():
                for pos in offsets if isinstance(offsets, list) else []:
                    if not (isinstance(pos, list) and len(pos) == 2):
                        return "cluener", [], f"offsets of '{mention}' are not [start, end] pairs"
                    end = pos[1] + 1 if isinstance(pos[1], int) else pos[1]
                    spans.append((pos[0], end, kind, mention))
        return "cluener", spans, None
    if isinstance(obj.get("label"), list):  # Label Studio JSON-MIN: "label": [{start, end, text, labels: [..]}]
        return "label_studio", [_ls_span(v) for v in obj["label"] if isinstance(v, dict)], None
    if isinstance(obj.get("annotations"), list) or isinstance(obj.get("data"), dict):  # Label Studio full export
        annotations = [a for a in obj.get("annotations") or [] if isinstance(a, dict) and not a.get("was_cancelled")]
        results = annotations[0].get("result") or [] if annotations else []
        values = [r.get("value") for r in results if isinstance(r, dict) and isinstance(r.get("value"), dict)]
        return "label_studio", [_ls_span(v) for v in values if "start" in v], None
    return "spans", [], None


def _ls_span(value: dict[str, Any]) -> tuple[Any, Any, Any, Any]:
    labels = value.get("labels") or value.get("label") or []
    label = labels[0] if isinstance(labels, list) and labels else labels
    return value.get("start"), value.get("end"), label, value.get("text")


def _text_of(obj: dict[str, Any]) -> Any:
    if isinstance(obj.get("data"), dict):
        data = obj["data"]
        return data.get("text", next((v for v in data.values() if isinstance(v, str)), None))
    return obj.get("text", obj.get("sentence", obj.get("content")))


def read_json_records(path: Path, filename: str) -> tuple[Iterator[NerRecord], dict[str, Any]]:
    """JSONL or a JSON array of objects, in any JSON layout (detected per record, the first one reported)."""
    table = open_table(path, filename)
    if table.format not in JSON_FORMATS:
        raise InvalidInput("not a JSON file", code="malformed_file")
    source = {"format": table.format, "encoding": table.encoding, "layout": None}

    def records() -> Iterator[NerRecord]:
        max_chars = limits.current().max_text_chars
        for n, obj in numbered_objects(table):
            layout, spans, error = _spans_of_object(obj)
            source["layout"] = source["layout"] or layout
            text = _text_of(obj)
            if not isinstance(text, str):
                yield NerRecord(n, "", error=error or 'no "text" string')
                continue
            if len(text) > max_chars:
                text = text[:max_chars]
                limits.current().cut_texts += 1
            split = obj.get("split") if isinstance(obj.get("split"), str) else None
            yield NerRecord(n, text, spans, normalize_split(split) if split else None, error)

    return records(), source


def _conll_lines(path: Path) -> Iterator[tuple[int, str]]:
    with path.open("rb") as fh:
        head = fh.read(64 * 1024)
    encoding = detect_encoding(path, head)
    with path.open(encoding=encoding, newline="") as fh:
        for n, line in enumerate(fh, start=1):
            yield n, line.rstrip("\r\n")


def read_conll(path: Path) -> tuple[Iterator[NerRecord], dict[str, Any]]:
    """Token-per-line files: token, optional middle columns, tag last; a blank line ends a sentence.

    Single-character tokens (Chinese character-per-line files) are joined without spaces, word tokens with one."""
    sample_tags, sample_tokens, bad = [], [], 0
    for _, line in _conll_lines(path):
        if len(sample_tags) >= CONLL_SAMPLE_LINES:
            break
        parts = line.split()
        if len(parts) >= 2 and not line.startswith("-DOCSTART-"):
            sample_tokens.append(parts[0])
            sample_tags.append(parts[-1])
            bad += not is_valid_tag(parts[-1])
    if not sample_tags or bad > len(sample_tags) / 10:
        raise InvalidInput(
            'Could not read this file as NER data. Upload JSONL lines {"text": ..., "entities": [{"start", '
            '"end", "label"}]} (end exclusive), the CLUENER layout, a Label Studio JSON export, or a '
            "token-per-line file (character TAB tag with B-/I-/O, BIOES or BMES tags, a blank line between "
            "sentences).",
            code="malformed_file",
        )
    joiner = "" if sum(len(t) == 1 for t in sample_tokens) > 0.9 * len(sample_tokens) else " "
    with path.open("rb") as fh:
        encoding = detect_encoding(path, fh.read(64 * 1024))
    source = {
        "format": "conll",
        "encoding": encoding,
        "layout": "conll",
        "scheme": detect_scheme(sample_tags),
        "token_joiner": joiner,
    }

    def records() -> Iterator[NerRecord]:
        tokens: list[str] = []
        tags: list[str] = []
        first = 0
        error: str | None = None
        max_rows = limits.current().max_rows
        count = 0

        def flush() -> NerRecord:
            starts, ends, pos = [], [], 0
            for i, tok in enumerate(tokens):
                if i and joiner:
                    pos += len(joiner)
                starts.append(pos)
                pos += len(tok)
                ends.append(pos)
            text = joiner.join(tokens)
            spans = [(s, e, label, text[s:e]) for s, e, label in tags_to_spans(tags, starts, ends)]
            return NerRecord(first, text, spans, error=error)

        for n, line in _conll_lines(path):
            parts = line.split()
            if not parts or line.startswith("-DOCSTART-"):
                if tokens:
                    count += 1
                    if count > max_rows:
                        raise PayloadTooLarge(
                            f"The file has more than {max_rows:,} sentences (LLM_TRAINER_MAX_ROWS).",
                            code="too_many_rows",
                        )
                    yield flush()
                tokens, tags, error = [], [], None
                continue
            if not tokens:
                first = n
            if len(parts) < 2 or not is_valid_tag(parts[-1]):
                error = error or f"line {n} has no valid tag ('{line[:40]}')"
                tokens.append(parts[0])
                tags.append("O")
                continue
            tokens.append(parts[0])
            tags.append(parts[-1])
        if tokens:
            yield flush()

    return records(), source


def open_records(path: Path, filename: str) -> tuple[Iterator[NerRecord], dict[str, Any]]:
    """JSON layouts by content, anything else as a token-per-line file."""
    with path.open("rb") as fh:
        head = fh.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    if not head:
        raise InvalidInput("The file is empty. Upload NER data with texts and entity spans.", code="empty_dataset")
    if head[:1] in (b"{", b"["):
        return read_json_records(
            path,
            filename
            if Path(filename).suffix in (".json", ".jsonl")
            else "data.jsonl"
            if head[:1] == b"{"
            else "data.json",
        )
    return read_conll(path)


# --- validation ------------------------------------------------------------------------------------------------


class NerValidator(RowTally):
    """Checks spans (in range, non-overlapping, matching their mention), de-duplicates texts, counts entities."""

    def __init__(self) -> None:
        super().__init__()
        self.refused: Counter[str] = Counter()
        self._refused_lines: list[int] = []
        self._refused_examples: list[dict[str, Any]] = []
        self._entity_lengths = array("I")
        self._has_split = False
        self.without_entities = 0
        self.line_of_idx: list[int] = []

    def _refuse(self, record: NerRecord, code: str, message: str) -> None:
        self.refused[code] += 1
        if len(self._refused_lines) < MAX_LINES:
            self._refused_lines.append(record.line)
        if len(self._refused_examples) < MAX_EXAMPLES:
            self._refused_examples.append(
                {"line": record.line, "code": code, "message": message, "text": record.text[:200]}
            )

    def _check_spans(self, record: NerRecord) -> tuple[list[tuple[int, int, str]] | None, str, str]:
        """(clean spans sorted by start, or None with the refusal code and message)."""
        n = len(record.text)
        clean: set[tuple[int, int, str]] = set()
        for start, end, label, mention in record.spans:
            label = normalize_label(str(label)) if label is not None else ""
            if not label:
                return None, "unlabelled_span", f"line {record.line}: an entity has no label"
            if not (isinstance(start, int) and isinstance(end, int)) or isinstance(start, bool):
                return None, "bad_offsets", f"line {record.line}: entity offsets must be whole numbers"
            if not 0 <= start < end <= n:
                return (
                    None,
                    "out_of_range",
                    (
                        f"line {record.line}: entity [{start}, {end}) '{label}' lies outside the text of {n} chars "
                        "(end is exclusive: text[start:end] is the mention)"
                    ),
                )
            if isinstance(mention, str) and mention and record.text[start:end] != mention:
                return (
                    None,
                    "mention_mismatch",
                    (
                        f"line {record.line}: entity [{start}, {end}) is '{record.text[start:end]}' in the text, "
                        f"but the file names it '{mention}'"
                    ),
                )
            clean.add((start, end, label))
        ordered = sorted(clean)
        for (s1, e1, l1), (s2, e2, l2) in zip(ordered, ordered[1:], strict=False):
            if s2 < e1:
                return (
                    None,
                    "overlapping",
                    (
                        f"line {record.line}: entities [{s1}, {e1}) '{l1}' and [{s2}, {e2}) '{l2}' overlap; "
                        "nested entities cannot be tagged, keep one of them"
                    ),
                )
        return ordered, "", ""

    def add(self, record: NerRecord) -> tuple | None:
        idx = self.rows_read
        self.rows_read += 1
        if record.error:
            self._malformed(idx)
            self._refuse(record, "malformed", f"line {record.line}: {record.error}")
            return None
        if not record.text.strip():
            self.dropped["empty_text"] += 1
            return None
        spans, code, message = self._check_spans(record)
        if spans is None:
            self._refuse(record, code, message)
            return None
        annotation = json.dumps([{"start": s, "end": e, "label": lb} for s, e, lb in spans], ensure_ascii=False)
        h = hash(record.text)
        prev = self._seen.get(h)
        conflict = False
        if prev is None:
            self._seen[h] = (idx, annotation)
        elif h in self._conflicts:
            if annotation in self._conflicts[h]["annotations"]:
                self.dropped["duplicate"] += 1
                return None
            self._conflicts[h]["annotations"].append(annotation)
            conflict = True
        elif prev[1] == annotation:
            self.dropped["duplicate"] += 1
            return None
        else:
            conflict = True
            self._conflicts[h] = {"text": record.text[:200], "annotations": [prev[1], annotation], "first_idx": prev[0]}
            self._untrain(json.loads(prev[1]))
            self.conflict_rows += 1
        self.rows_kept += 1
        self._lengths.append(len(record.text))
        if record.split is not None:
            self._has_split = True
            self._split_counts[record.split] += 1
        if conflict:
            self.conflict_rows += 1
        else:
            self._train(spans)
        label = summary(spans)
        self._sha.update(f"{record.text}\t{annotation}\n".encode())
        return (idx, record.text, label, record.split, conflict, None, annotation)

    def _train(self, spans: list[tuple[int, int, str]]) -> None:
        self._counts.update(lb for _, _, lb in spans)
        self._per_text[len(spans)] += 1
        self.without_entities += not spans
        self._entity_lengths.extend(e - s for s, e, _ in spans)

    def _untrain(self, spans: list[dict[str, Any]]) -> None:
        self._counts.subtract(s["label"] for s in spans)
        self._per_text[len(spans)] -= 1
        self.without_entities -= not spans

    def finish(self) -> dict[str, Any]:
        counts = self.label_counts()
        refused = sum(self.refused.values())
        if self.rows_kept == 0:
            first = self._refused_examples[0]["message"] if self._refused_examples else "no text found"
            raise InvalidInput(
                f"No usable texts: {self.rows_read} read, {refused} refused (first: {first}). Fix the spans and "
                "upload again.",
                code="empty_dataset",
                details={"rows_read": self.rows_read, "refused": dict(self.refused), "lines": self._refused_lines},
            )
        if not counts:
            raise InvalidInput(
                f"None of the {self.rows_kept} texts has an entity; NER training needs labelled entities. Check the "
                "'entities' field (or the tags) of the file.",
                code="too_few_labels",
                details={"labels": counts},
            )
        warnings = []
        if refused:
            warnings.append(
                issue(
                    "refused_spans",
                    f"{refused} text(s) were refused because of their entities ("
                    + ", ".join(f"{k} {v}" for k, v in self.refused.most_common())
                    + f"); lines {', '.join(map(str, self._refused_lines[:10]))}"
                    + ("..." if len(self._refused_lines) > 10 else "")
                    + ". Fix them in the file and upload again to use them.",
                    lines=self._refused_lines,
                    counts=dict(self.refused),
                )
            )
        warnings += self._shared_warnings(counts, "entity type(s)", "entities")
        examples = []
        for c in list(self._conflicts.values())[:MAX_EXAMPLES]:
            labels = [summary([(0, 0, s["label"]) for s in json.loads(a)]) or "—" for a in c["annotations"]]
            examples.append({"text": c["text"], "labels": labels, "first_idx": c["first_idx"]})
        return {
            **self._report(counts, examples, self._has_split, warnings),
            "ner": {
                "entity_counts": counts,
                "entities": sum(counts.values()),
                "texts_without_entities": self.without_entities,
                "entities_per_text": {str(k): v for k, v in sorted(self._per_text.items()) if v > 0},
                "entity_length": length_stats(self._entity_lengths),
                "refused": {
                    "rows": refused,
                    "counts": dict(self.refused),
                    "lines": self._refused_lines,
                    "examples": self._refused_examples,
                },
            },
        }


def open_ner_file(path: Path, filename: str, columns: dict[str, str | None]) -> Ingest:
    records, info = open_records(path, filename)
    fmt = info["format"]
    source = {
        "format": fmt,
        "encoding": info.get("encoding"),
        "delimiter": None,
        "columns": ["text", "entities"],
        "text_column": "text",
        "label_column": "entities",
        "split_column": None,
        "guessed_columns": {},
        "size_bytes": path.stat().st_size,
        "ner_format": info,  # layout (spans, cluener, label_studio, conll), tag scheme, token joiner
    }
    return Ingest(
        records=records,
        validator=NerValidator(),
        columns={"text": "text", "label": "entities", "split": None},
        source=source,
        file_format=fmt,
        encoding=info.get("encoding") or "",
    )


def _span_key(obj: dict[str, Any]) -> str | None:
    """The key holding entity spans in one JSON record of a known NER layout."""
    if isinstance(obj.get("entities"), list):
        return "entities"
    label = obj.get("label")
    if isinstance(label, dict) or (isinstance(label, list) and label and all(isinstance(v, dict) for v in label)):
        return "label"  # CLUENER's {type: {mention: offsets}}, Label Studio JSON-MIN's span list
    if isinstance(obj.get("annotations"), list):
        return "annotations"
    return None


def recognise_ner(sample: FileSample) -> list[str] | None:
    """[the span key] of JSON records in a NER layout, or [the tag scheme] of a token-per-line file."""
    if sample.objects:
        keys = Counter(k for obj in sample.objects if (k := _span_key(obj)))
        return [keys.most_common(1)[0][0]] if keys and keys.total() * 2 >= len(sample.objects) else None
    tags = [parts[-1] for line in sample.lines if len(parts := line.split()) >= 2 and not line.startswith("-DOCSTART-")]
    good = [t for t in tags if is_valid_tag(t)]
    if len(tags) < 3 or len(good) < 0.9 * len(tags) or all(t == "O" for t in good):
        return None
    return [detect_scheme(good)]
