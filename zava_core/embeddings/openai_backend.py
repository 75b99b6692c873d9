"""OpenAI and Azure OpenAI embeddings (text-embedding-3-small, 1536 dimensions), batched and retried."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from zava_core.errors import Unavailable
from zava_core.infra.config import ConfigError, Settings
from zava_core.infra.redaction import redact, settings_secrets

BATCH = 256
DIMENSIONS = 1536


class OpenAIEmbedder:
    dimensions = DIMENSIONS

    def __init__(self, client, *, backend: str, model: str, secrets: tuple[str, ...] = ()) -> None:
        self._client = client
        self.backend = backend
        self.model = model
        self._secrets = secrets

    @classmethod
    def from_settings(cls, settings: Settings) -> OpenAIEmbedder:
        from openai import AsyncAzureOpenAI, AsyncOpenAI

        secrets = settings_secrets(settings)
        if settings.embedding_backend == "azure-openai":
            if not (settings.azure_openai_endpoint and settings.azure_openai_api_key):
                raise ConfigError(
                    "ZAVA_EMBEDDING_BACKEND=azure-openai needs AZURE_OPENAI_ENDPOINT and AZURE_OPENAI_API_KEY"
                )
            # The SDK reads OPENAI_API_VERSION, not AZURE_OPENAI_API_VERSION: pass the version explicitly.
            client = AsyncAzureOpenAI(
                azure_endpoint=settings.azure_openai_endpoint,
                api_key=settings.azure_openai_api_key,
                api_version=settings.azure_openai_api_version,
                max_retries=4,
                timeout=30.0,
            )
            return cls(client, backend="azure-openai", model=settings.azure_openai_deployment_name, secrets=secrets)
        if not settings.openai_api_key:
            raise ConfigError("ZAVA_EMBEDDING_BACKEND=openai needs OPENAI_API_KEY")
        client = AsyncOpenAI(
            api_key=settings.openai_api_key, base_url=settings.openai_base_url, max_retries=4, timeout=30.0,
        )
        return cls(client, backend="openai", model=settings.openai_embedding_model, secrets=secrets)

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        from openai import OpenAIError

        rows: list[list[float]] = []
        for start in range(0, len(texts), BATCH):
            batch = list(texts[start:start + BATCH])
            try:
                response = await self._client.embeddings.create(input=batch, model=self.model)
            except OpenAIError as exc:
                raise Unavailable(f"{self.backend} embeddings failed: {self._describe(exc)}") from None
            rows.extend(item.embedding for item in sorted(response.data, key=lambda d: d.index))
        matrix = np.asarray(rows, dtype=np.float32).reshape(len(rows), -1)
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        return matrix / np.where(norms == 0, 1, norms)

    def _describe(self, exc: Exception) -> str:
        """The provider's error, short: some gateways quote the API key back in it, so the keys are masked."""
        status = getattr(exc, "status_code", None)
        head = type(exc).__name__ + (f" (HTTP {status})" if status else "")
        return f"{head}: {redact(str(exc), self._secrets)[:200]}"
