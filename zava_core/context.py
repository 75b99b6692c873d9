"""`Zava`: what one process needs to answer queries: the client, the database, cached reference data.

Created once per process (the MCP server's lifespan) and closed on shutdown.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from zava_core import db as zdb
from zava_core.config import Settings
from zava_core.reference_data import ReferenceData


@dataclass
class Zava:
    settings: Settings
    client: AsyncMongoClient
    db: AsyncDatabase
    reference: ReferenceData
    _extras: dict = field(default_factory=dict)

    @classmethod
    async def open(cls, settings: Settings) -> Zava:
        client = await zdb.connect(settings)
        database = zdb.database(client, settings)
        return cls(settings=settings, client=client, db=database, reference=ReferenceData(database))

    async def close(self) -> None:
        await self.client.close()
