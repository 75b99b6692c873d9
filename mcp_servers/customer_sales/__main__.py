from mcp_servers.customer_sales.server import build_server
from mcp_servers.serving.runner import main

raise SystemExit(main("customer_sales", build_server))
