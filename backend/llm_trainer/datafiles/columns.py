"""Choose the text, label and split columns of a table: explicit names, the defaults, or a guess from headers."""

from __future__ import annotations

from dataclasses import dataclass, field

from llm_trainer.core.errors import InvalidInput

# Ordered by preference; matched case-insensitively, exact names before names that merely contain one.
TEXT_NAMES = (
    "text",
    "文本",
    "内容",
    "评论",
    "句子",
    "review",
    "sentence",
    "content",
    "comment",
    "文本内容",
    "评论内容",
)
LABEL_NAMES = ("label", "标签", "类别", "分类", "class", "category", "cat", "labels", "类型")
SPLIT_NAMES = ("split", "subset", "划分", "数据集划分", "集合")
# Containing "cat" is too weak a hint ("location", "education"), so short English names must match exactly.
MIN_CONTAINED_LATIN = 4

SPLIT_ALIASES = {
    "train": "train",
    "training": "train",
    "trn": "train",
    "训练": "train",
    "训练集": "train",
    "validation": "validation",
    "valid": "validation",
    "val": "validation",
    "dev": "validation",
    "eval": "validation",
    "development": "validation",
    "验证": "validation",
    "验证集": "validation",
    "开发集": "validation",
    "test": "test",
    "testing": "test",
    "tst": "test",
    "测试": "test",
    "测试集": "test",
}
SPLITS = ("train", "validation", "test")


@dataclass
class ColumnChoice:
    """Where text, label and (optional) split live in each row, and which of them were guessed."""

    text: str
    text_index: int
    label: str | None = None
    label_index: int | None = None
    split: str | None = None
    split_index: int | None = None
    guessed: dict[str, str] = field(default_factory=dict)  # role -> column name that was guessed


def choose_columns(
    columns: list[str],
    text_column: str | None = None,
    label_column: str | None = None,
    *,
    require_label: bool = True,
) -> ColumnChoice:
    """Resolve column roles; raise `missing_columns` (with the available names) when one cannot be found."""
    text, text_guessed = _resolve(columns, text_column, TEXT_NAMES, role="text")
    label, label_guessed = _resolve(columns, label_column, LABEL_NAMES, role="label", exclude=text, required=False)
    if label is None and require_label:
        _missing(columns, "label", label_column)
    split, _ = _resolve(columns, None, SPLIT_NAMES, role="split", exclude=text, required=False)
    if split == label:
        split = None
    guessed = {}
    if text_guessed:
        guessed["text"] = text
    if label_guessed and label is not None:
        guessed["label"] = label
    return ColumnChoice(
        text=text,
        text_index=columns.index(text),
        label=label,
        label_index=None if label is None else columns.index(label),
        split=split,
        split_index=None if split is None else columns.index(split),
        guessed=guessed,
    )


def resolve_column(
    columns: list[str],
    explicit: str | None,
    names: tuple[str, ...],
    *,
    role: str,
    exclude: tuple[str, ...] = (),
    required: bool = True,
) -> tuple[str | None, bool]:
    """(column, guessed?) for one role of a task's own layout (e.g. a pair's `text_b`), matched like text/label."""
    remaining = [c for c in columns if c not in exclude]
    if explicit and explicit.strip():
        return _resolve(columns, explicit, names, role=role, required=required)
    if remaining:
        return _resolve(remaining, None, names, role=role, required=required)
    if required:  # every column already has a role (a one-column file for a pair model)
        _missing(columns, role, None)
    return None, False


def normalize_split(value: str) -> str | None:
    """'dev', 'val', '验证集'... -> 'validation'; empty or unknown -> None."""
    return SPLIT_ALIASES.get(value.strip().lower()) if value else None


def _resolve(
    columns: list[str],
    explicit: str | None,
    names: tuple[str, ...],
    *,
    role: str,
    exclude: str | None = None,
    required: bool = True,
) -> tuple[str | None, bool]:
    """(column, guessed?) for one role; explicit names must exist, otherwise match known header names."""
    if explicit and explicit.strip():
        wanted = explicit.strip()
        for c in columns:
            if c == wanted or c.lower() == wanted.lower():
                return c, False
        _missing(columns, role, wanted)
    candidates = [c for c in columns if c != exclude]
    lowered = {c: c.lower() for c in candidates}
    default = names[0]
    for c in candidates:
        if lowered[c] == default:
            return c, False
    for name in names:
        for c in candidates:
            if lowered[c] == name:
                return c, True
    for name in names:
        if name.isascii() and len(name) < MIN_CONTAINED_LATIN:
            continue
        for c in candidates:
            if name in lowered[c]:
                return c, True
    if required:
        _missing(columns, role, None)
    return None, False


def _missing(columns: list[str], role: str, wanted: str | None) -> None:
    problem = f"The {role} column '{wanted}' is not in the file." if wanted else f"Could not find the {role} column."
    raise InvalidInput(
        f"{problem} Available columns: {', '.join(columns)}. Name the column '{role}' or choose it with the "
        f"{role}_column field.",
        code="missing_columns",
        details={"role": role, "requested": wanted, "available": columns},
    )
