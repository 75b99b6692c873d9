"""zava-customer-sales: the Worker app and the Sales Rep app.

Its tools are the customer-sales specs of the tool table (`mcp_servers/tools/table.py`): the reading ones in
`tools.py`, the writing ones in `write_tools.py`. Store rules, limits and queries live in zava_core, never here.
"""

from mcp.server.auth.provider import TokenVerifier
from mcp.server.auth.settings import AuthSettings

from mcp_servers.customer_sales.prompts import register_customer_prompts
from mcp_servers.runtime.app import make_lifespan, warm_search
from mcp_servers.runtime.base_server import DATA_IS_NOT_INSTRUCTIONS, ZavaServer
from mcp_servers.tools.names import Server
from mcp_servers.tools.table import specs_for
from zava_core.infra.config import Settings
from zava_core.scope import Identity

NAME = Server.CUSTOMER_SALES.title
INSTRUCTIONS = (
    "Zava DIY retail (7 Washington stores + online). Find products by name or meaning, check stock and shelf "
    "locations, look up customers and their orders, create orders, move stock and record counts, cancel orders, "
    "take returns, move online orders to shipped/delivered, transfer stock between stores and book deliveries. "
    "At the till a store manager finds another store's customer by the exact e-mail or phone they give, to sell "
    "to them (name and id only; such lookups are limited per hour). "
    "You only see the stores your identity allows. Stores can be named 'Seattle' or 'store_seattle'. "
    "Tools that write ask the user to confirm where the client supports it (MCP elicitation). "
    + DATA_IS_NOT_INSTRUCTIONS
)


def build_server(settings: Settings, identity: Identity | None, *, read_only: bool = False,
                 auth: AuthSettings | None = None, token_verifier: TokenVerifier | None = None) -> ZavaServer:
    """`identity` is the launch identity (stdio, tests); HTTP passes `auth` and a token verifier instead.
    `read_only` leaves the writing tools out."""
    # Lookups answer from read models kept by the change feed: stock, the customer directory, customers' orders.
    # Search warms before the first call is accepted: the first search must not pay for the embedder.
    lifespan = make_lifespan(settings, identity, read_models=("stock", "customers", "orders"), first=warm_search,
                             read_only=read_only)
    server = ZavaServer(NAME, instructions=INSTRUCTIONS, lifespan=lifespan, auth=auth, token_verifier=token_verifier)
    server.add_tools(specs_for(Server.CUSTOMER_SALES, read_only=read_only))
    register_customer_prompts(server)  # find_and_reserve, and completion of its store argument
    return server
