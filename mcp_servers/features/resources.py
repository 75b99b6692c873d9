"""`zava://` resources: the collection schemas and the store directory, for hosts that attach resources to a
conversation without a tool call.

| URI | what |
|---|---|
| `zava://schemas` | every collection's schema (what `get_collection_schemas` returns for all) |
| `zava://schemas/{collection}` | one collection's schema (a template; `collection` completes) |
| `zava://stores` | the stores the caller may see: id, names, online or not |
| `zava://search/misses` | shopper queries product search could not answer well, per store, most asked first |

Each is read per caller: valid values and the store directory hold only the caller's stores. The JSON is
zava_core's own models, unchanged.
"""

from __future__ import annotations

from mcp.server import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError

from mcp_servers.runtime import caller
from zava_core.analysis import schemas
from zava_core.errors import ZavaError
from zava_core.retail import search_misses
from zava_core.shaping import Out

JSON = "application/json"
SCHEMAS_URI = "zava://schemas"
STORES_URI = "zava://stores"
SEARCH_MISSES_URI = "zava://search/misses"
SCHEMA_TEMPLATE = "zava://schemas/{collection}"


class StoreEntry(Out):
    store_id: str
    store_name: str
    short_name: str
    is_online: bool


class StoreDirectoryResource(Out):
    stores: list[StoreEntry]
    note: str = "Tools accept any of store_id, short_name or store_name."


async def _schemas(collections: list[str]) -> str:
    try:
        async with caller.caller() as (zava, scope):
            result = await schemas.collection_schemas(zava, scope, collections)
    except ZavaError as exc:
        raise ResourceError(f"{exc.code}: {exc}") from None  # the code first, as in a tool error
    return result.model_dump_json(exclude_none=True)


async def store_directory() -> str:
    try:
        async with caller.caller() as (zava, scope):
            stores = (await zava.reference.get()).stores.stores
    except ZavaError as exc:
        raise ResourceError(f"{exc.code}: {exc}") from None  # the code first, as in a tool error
    entries = [StoreEntry(store_id=s.store_id, store_name=s.store_name, short_name=s.short_name,
                          is_online=s.is_online) for s in stores if s.store_id in scope.store_ids]
    return StoreDirectoryResource(stores=entries).model_dump_json()


async def search_miss_counts() -> str:
    try:
        async with caller.caller() as (zava, scope):
            result = await search_misses.search_misses(zava.collections.search_misses, scope)
    except ZavaError as exc:
        raise ResourceError(str(exc)) from None
    return result.model_dump_json(exclude_none=True)


def register_resources(server: MCPServer) -> None:
    caller.install(server)

    @server.resource(SCHEMAS_URI, name="collection-schemas", title="Zava collection schemas", mime_type=JSON,
                     description="Fields, types, meanings, relationships, indexes and valid values of every collection")
    async def all_schemas() -> str:
        return await _schemas([])

    @server.resource(SCHEMA_TEMPLATE, name="collection-schema", title="One Zava collection's schema", mime_type=JSON,
                     description="One collection: orders, order_items, products, inventory, sales_monthly, ...")
    async def one_schema(collection: str) -> str:
        return await _schemas([collection])

    @server.resource(STORES_URI, name="store-directory", title="Zava stores", mime_type=JSON,
                     description="The stores you may see: ids and names (tools accept either)")
    async def stores() -> str:
        return await store_directory()

    @server.resource(SEARCH_MISSES_URI, name="search-misses", title="What shoppers ask for and the catalog lacks",
                     mime_type=JSON, description="Product searches without a good answer (none, or only weak "
                     "matches), counted per store in your scope, most asked first, with the nearest product types")
    async def misses() -> str:
        return await search_miss_counts()

