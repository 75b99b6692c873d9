"""Semantic product search: Atlas `$vectorSearch` where offered, else an exact in-memory cosine index."""

from __future__ import annotations

VECTOR_INDEX_NAME = "product_embeddings_vector"
