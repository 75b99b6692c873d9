from mcp_servers.common.runner import main
from mcp_servers.sales_analysis.server import build_server

raise SystemExit(main("sales_analysis", build_server))
