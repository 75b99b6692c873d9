"""The embedding backend: configured, reachable, and matching the stored vectors."""

from __future__ import annotations

import time

import anyio
from pymongo.errors import PyMongoError

from zava_core.errors import Unavailable
from zava_core.infra.config import ConfigError, Settings
from zava_core.store import Collections
from zava_ops.doctor.access import short_error
from zava_ops.doctor.report import (
    Report,
)

# --- embeddings --------------------------------------------------------------------------------------

async def embeddings_step(settings: Settings, collections: Collections | None, timeout: float,
                          report: Report) -> None:
    from zava_core.embeddings import get_embedder

    backend = settings.embedding_backend
    try:
        embedder = get_embedder(settings)
    except ConfigError as exc:
        report.fail("embeddings", f"{backend}: {exc}", "the backend's key or endpoint is not configured",
                    "set it in .env (see .env.sample), or ZAVA_EMBEDDING_BACKEND=static for the offline model")
        return
    except ImportError as exc:
        report.fail("embeddings", f"{backend}: {exc}", "the backend's optional packages are not installed",
                    "pip install 'zava-mcp[onnx]', or ZAVA_EMBEDDING_BACKEND=static")
        return
    except Exception as exc:  # a diagnosis reports whatever loading the model raises, it does not crash
        report.fail("embeddings", f"{backend}: {type(exc).__name__}: {exc}", "the model could not be loaded",
                    "reinstall the package (pip install -e .), or ZAVA_EMBEDDING_BACKEND=static")
        return
    started = time.perf_counter()
    try:
        # The HTTP backends retry for up to minutes on their own; the doctor answers sooner.
        with anyio.fail_after(max(timeout * 5, 15.0)):
            vectors = await embedder.embed(["cordless drill with two batteries"])
    except (Unavailable, TimeoutError) as exc:
        report.fail("embeddings", f"{backend} ({embedder.model}): {exc or 'no answer in time'}",
                    _embedding_cause(str(exc)), "check the key, endpoint and deployment/model name in .env")
        return
    except Exception as exc:  # e.g. an SDK error the backend does not wrap: report it, do not crash
        report.fail("embeddings", f"{backend} ({embedder.model}): {type(exc).__name__}: {exc}",
                    _embedding_cause(type(exc).__name__), "check the key, endpoint and deployment/model name in .env")
        return
    millis = (time.perf_counter() - started) * 1000
    shape = f"{embedder.model}, {vectors.shape[1]} dims, one string in {millis:.0f} ms"
    if collections is None:
        report.ok("embeddings", f"{backend} ({shape})")
        return
    try:
        embeddings, products_ = collections.product_embeddings, collections.products
        stored = await embeddings.count_documents(embeddings.unscoped(model=embedder.model))
        products = await products_.count_documents(products_.unscoped())
    except PyMongoError as exc:
        report.add("embeddings", "warn", f"{backend} ({shape}); stored vectors not counted: {short_error(exc)}")
        return
    if products and not stored:
        report.fail("embeddings", f"{backend} works ({shape}), but no product vectors of model {embedder.model!r}",
                    "the products were embedded with another backend (or not at all)", "python -m seeding embed")
    elif stored < products:
        report.add("embeddings", "warn", f"{backend} ({shape}); {stored} of {products} products have vectors",
                   fix="python -m seeding embed")
    else:
        report.ok("embeddings", f"{backend} ({shape}); {stored} product vectors of this model")


def _embedding_cause(message: str) -> str:
    if "AuthenticationError" in message or "PermissionDenied" in message:
        return "the API key is wrong or lacks access to the model"
    if "NotFound" in message:
        return "the model or Azure deployment name does not exist on that endpoint"
    return "the embedding endpoint cannot be reached from here (network, proxy or endpoint URL)"
