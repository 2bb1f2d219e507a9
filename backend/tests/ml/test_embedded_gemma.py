import hashlib

import pytest

from llm_trainer.core.errors import Unavailable
from llm_trainer.ml.base_models.embedded_gemma import is_ready, join_parts


def _parts(tmp_path, chunks):
    paths = []
    for i, data in enumerate(chunks):
        p = tmp_path / f"m.gguf.part0{i}"
        p.write_bytes(data)
        paths.append(p)
    return paths


def test_parts_join_in_order_into_the_checked_file(tmp_path):
    chunks = [b"GGUF", b"-middle-", b"end"]
    whole = b"".join(chunks)
    out = join_parts(_parts(tmp_path, chunks), tmp_path / "m.gguf", hashlib.sha256(whole).hexdigest(), len(whole))
    assert out.read_bytes() == whole


def test_a_corrupt_part_is_refused_and_leaves_no_file(tmp_path):
    good = b"GGUFabc"
    out = tmp_path / "m.gguf"
    with pytest.raises(Unavailable) as err:
        join_parts(_parts(tmp_path, [b"GGUF", b"abX"]), out, hashlib.sha256(good).hexdigest(), len(good))
    assert err.value.code == "embedded_checksum_mismatch"
    assert not out.exists() and not list(tmp_path.glob("*.part"))


def test_an_empty_cache_is_not_ready(tmp_path):
    assert not is_ready(tmp_path)
