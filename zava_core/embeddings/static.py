"""The default offline embedder: a static token table distilled from all-MiniLM-L6-v2.

The artifact in ``static_minilm/`` was built once by ``scripts/build_static_embedder.py`` with
model2vec (PCA to 256 dimensions, int8). Loading needs numpy only: the safetensors file is
parsed here (an 8-byte little-endian header length, a JSON header, then raw arrays), its sha256
is checked against ``SHA256SUMS`` first; the int8 table is kept as stored (rows are summed in float32).

A text's vector is the mean of its WordPiece tokens' rows (no [CLS]/[SEP], unknown tokens
dropped, at most ``max_length`` tokens), L2-normalised; a text with no known token gives a zero
vector. This is what model2vec's ``StaticModel.encode`` computes (the build cross-checks it).
"""

from __future__ import annotations

import functools
import hashlib
import json
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from zava_core.embeddings.wordpiece import WordPieceTokenizer
from zava_core.errors import ErrorCode, ZavaError

__all__ = [
    "ARTIFACT_DIR",
    "MODEL_ID",
    "ArtifactIntegrityError",
    "StaticEmbedder",
    "read_safetensors",
]

ARTIFACT_DIR = Path(__file__).resolve().parent / "static_minilm"
MODEL_ID = "zava-static-minilm-l6-v2-256-int8"
DIMENSIONS = 256
_CHECKED_FILES = ("model.safetensors", "tokenizer.json")
_DEFAULT_MAX_LENGTH = 512

_DTYPES = {
    "BOOL": np.dtype(np.bool_),
    "U8": np.dtype(np.uint8),
    "I8": np.dtype(np.int8),
    "I16": np.dtype("<i2"),
    "U16": np.dtype("<u2"),
    "I32": np.dtype("<i4"),
    "U32": np.dtype("<u4"),
    "I64": np.dtype("<i8"),
    "U64": np.dtype("<u8"),
    "F16": np.dtype("<f2"),
    "F32": np.dtype("<f4"),
    "F64": np.dtype("<f8"),
}
# Names a per-row or global dequantisation scale might be saved under. model2vec 0.10 saves
# none for int8 (its single global scale is dropped: it cancels in the L2 normalisation).
_SCALE_NAMES = ("scales", "scale", "embeddings_scale", "embedding_scale")


class ArtifactIntegrityError(ZavaError, RuntimeError):
    """The embedder artifact does not match its recorded sha256 (corrupted or swapped)."""

    code = ErrorCode.INVALID_CONFIG


def read_safetensors(data: bytes) -> dict[str, np.ndarray]:
    """Parse a safetensors blob into numpy arrays (read-only views into ``data``)."""
    if len(data) < 8:
        raise ValueError("not a safetensors file: shorter than its 8-byte header length")
    (header_len,) = struct.unpack("<Q", data[:8])
    if header_len > len(data) - 8:
        raise ValueError("not a safetensors file: header length past the end of the file")
    header = json.loads(data[8 : 8 + header_len].decode("utf-8"))
    base = 8 + header_len
    tensors: dict[str, np.ndarray] = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dtype = _DTYPES.get(info["dtype"])
        if dtype is None:
            raise ValueError(f"tensor {name!r}: unsupported dtype {info['dtype']}")
        shape = tuple(int(d) for d in info["shape"])
        start, end = (int(x) for x in info["data_offsets"])
        count = int(np.prod(shape, dtype=np.int64)) if shape else 1
        if end - start != count * dtype.itemsize or base + end > len(data) or start < 0:
            raise ValueError(f"tensor {name!r}: data offsets do not fit its shape or the file")
        tensors[name] = np.frombuffer(data, dtype=dtype, count=count, offset=base + start).reshape(shape)
    return tensors


def _read_sha256sums(model_dir: Path) -> dict[str, str]:
    sums_path = model_dir / "SHA256SUMS"
    if not sums_path.is_file():
        raise ArtifactIntegrityError(f"{sums_path} is missing: cannot verify the static embedder artifact")
    sums: dict[str, str] = {}
    for line in sums_path.read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if len(parts) == 2:
            sums[parts[1].lstrip("*")] = parts[0].lower()
    return sums


def _verified_bytes(model_dir: Path, name: str, sums: dict[str, str]) -> bytes:
    path = model_dir / name
    if not path.is_file():
        raise FileNotFoundError(f"static embedder artifact file missing: {path}")
    expected = sums.get(name)
    if expected is None:
        raise ArtifactIntegrityError(f"{model_dir / 'SHA256SUMS'} lists no sha256 for {name}")
    data = path.read_bytes()
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected:
        raise ArtifactIntegrityError(
            f"sha256 mismatch for {path}: expected {expected}, got {actual}. The static embedder "
            "artifact is corrupted or was changed without updating SHA256SUMS; restore it from git "
            "(or rebuild it with scripts/build_static_embedder.py)."
        )
    return data


@dataclass(frozen=True)
class _StaticModel:
    table: np.ndarray  # (vocab, dims): int8 as stored, or float32 once a scale or token weights are applied
    mapping: np.ndarray | None  # token id -> row, when the vocabulary was quantised
    tokenizer: WordPieceTokenizer
    unk_id: int | None
    max_length: int | None


@functools.cache
def _load(model_dir: str, use_fast_tokenizer: bool | None) -> _StaticModel:
    directory = Path(model_dir)
    sums = _read_sha256sums(directory)
    raw = _verified_bytes(directory, "model.safetensors", sums)
    tok_bytes = _verified_bytes(directory, "tokenizer.json", sums)

    tensors = read_safetensors(raw)
    emb = tensors.get("embeddings")
    if emb is None:
        emb = tensors.get("embedding.weight")
    if emb is None or emb.ndim != 2:
        raise ValueError(f"{directory / 'model.safetensors'} holds no 2-D 'embeddings' tensor")
    # Kept as stored (int8: 7.5 MB) unless a scale or weights must be applied: a float32 copy is 30 MB of every
    # customer-sales process, and a vector sums a text's few rows into float32 anyway (exact for int8 rows).
    table = np.array(emb)  # its own copy: the file's bytes can be freed
    for scale_name in _SCALE_NAMES:
        if scale_name in tensors:
            scale = tensors[scale_name].astype(np.float32)
            table = table.astype(np.float32)
            table *= scale.reshape(-1, 1) if scale.size == table.shape[0] else scale.reshape(())
            break
    mapping = tensors.get("mapping")
    weights = tensors.get("weights")
    if weights is not None:
        if mapping is not None:
            # Per-token weights over shared rows: expand to one row per token.
            table = table[mapping.astype(np.int64)] * weights.astype(np.float32)[:, None]
            mapping = None
        else:
            table = table * weights.astype(np.float32)[:, None]
    table.setflags(write=False)

    config_path = directory / "config.json"
    config = json.loads(config_path.read_text(encoding="utf-8")) if config_path.is_file() else {}
    max_length = config.get("max_length", _DEFAULT_MAX_LENGTH)

    tokenizer = WordPieceTokenizer.from_json(
        tok_bytes.decode("utf-8"), use_fast=use_fast_tokenizer, source=str(directory / "tokenizer.json")
    )
    n_tokens = len(mapping) if mapping is not None else table.shape[0]
    if tokenizer.vocab_size != n_tokens:
        raise ValueError(f"tokenizer has {tokenizer.vocab_size} tokens but the table has {n_tokens} rows")
    return _StaticModel(
        table=table,
        mapping=None if mapping is None else mapping.astype(np.int64),
        tokenizer=tokenizer,
        unk_id=tokenizer.unk_id,
        max_length=int(max_length) if max_length else None,
    )


class StaticEmbedder:
    """Offline 256-dimension embedder; numpy only (the ``tokenizers`` library when asked for and installed)."""

    backend = "static"
    model = MODEL_ID
    dimensions = DIMENSIONS

    # The pure-Python WordPiece by default: the same ids (tests/unit/test_embedders.py), as fast for a query's few
    # words (43 against 45 us a query, measured), and 13 MB less in each process than the `tokenizers` library.
    def __init__(self, model_dir: str | Path | None = None, *, use_fast_tokenizer: bool | None = False):
        directory = Path(model_dir) if model_dir is not None else ARTIFACT_DIR
        self._m = _load(str(directory.resolve()), use_fast_tokenizer)
        if self._m.table.shape[1] != self.dimensions:
            raise ValueError(f"artifact has {self._m.table.shape[1]} dimensions, expected {self.dimensions}")

    @property
    def tokenizer(self) -> WordPieceTokenizer:
        return self._m.tokenizer

    def token_ids(self, texts: Sequence[str]) -> list[list[int]]:
        """The ids each text's vector is averaged over (unknown ids dropped, truncated)."""
        m = self._m
        out = []
        for ids in m.tokenizer.encode_batch(list(texts)):
            if m.max_length is not None:
                ids = ids[: m.max_length]
            out.append([i for i in ids if i != m.unk_id] if m.unk_id is not None else list(ids))
        return out

    def embed_sync(self, texts: Sequence[str]) -> np.ndarray:
        if isinstance(texts, str):
            raise TypeError("embed_sync takes a sequence of texts, not a single string")
        m = self._m
        out = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        if not len(texts):
            return out
        id_lists = self.token_ids(texts)
        lengths = np.fromiter((len(ids) for ids in id_lists), dtype=np.int64, count=len(id_lists))
        rows = np.flatnonzero(lengths)
        if rows.size == 0:
            return out
        flat = np.fromiter((i for ids in id_lists for i in ids), dtype=np.int64, count=int(lengths.sum()))
        if m.mapping is not None:
            flat = m.mapping[flat]
        starts = np.concatenate(([0], np.cumsum(lengths[rows])[:-1]))
        sums = np.add.reduceat(m.table[flat], starts, axis=0, dtype=np.float32)
        means = sums / lengths[rows, None].astype(np.float32)
        norms = np.linalg.norm(means, axis=1, keepdims=True)
        out[rows] = means / np.maximum(norms, np.float32(1e-12))
        return out

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        return self.embed_sync(texts)
