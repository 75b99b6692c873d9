"""Text embedders behind one small interface, chosen by `ZAVA_EMBEDDING_BACKEND`.

- `static` (default): a static table distilled from all-MiniLM-L6-v2, numpy only, shipped in the package.
- `onnx-minilm`: all-MiniLM-L6-v2 int8 ONNX (the `onnx` extra).
- `openai` / `azure-openai`: text-embedding-3-small over HTTP.

Every embedder returns L2-normalised float32 rows, so cosine similarity is a dot product.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from zava_core.infra.config import Settings


class Embedder(Protocol):
    backend: str
    model: str
    dimensions: int

    async def embed(self, texts: Sequence[str]) -> np.ndarray: ...


def product_text(name: str, description: str) -> str:
    """The text embedded for a product (docs/dataset.md section 4)."""
    return f"{name}. {description}"


_cache: dict[tuple, Embedder] = {}


def get_embedder(settings: Settings) -> Embedder:
    """The configured embedder, built once per process (loading weights is the slow part)."""
    key = (settings.embedding_backend, settings.openai_base_url, settings.azure_openai_endpoint,
           settings.openai_embedding_model, settings.azure_openai_deployment_name)
    if key not in _cache:
        _cache[key] = _build(settings)
    return _cache[key]


def _build(settings: Settings) -> Embedder:
    backend = settings.embedding_backend
    if backend == "static":
        from zava_core.embeddings.static import StaticEmbedder

        return StaticEmbedder()
    if backend == "onnx-minilm":
        from zava_core.embeddings.onnx_minilm import OnnxMiniLMEmbedder

        return OnnxMiniLMEmbedder()
    from zava_core.embeddings.openai_backend import OpenAIEmbedder

    return OpenAIEmbedder.from_settings(settings)
