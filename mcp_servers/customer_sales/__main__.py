from mcp_servers.common.runner import main
from mcp_servers.customer_sales.server import build_server

raise SystemExit(main("customer_sales", build_server))
