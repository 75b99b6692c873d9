from mcp_servers.sales_analysis.server import build_server
from mcp_servers.serving.runner import main

raise SystemExit(main("sales_analysis", build_server))
