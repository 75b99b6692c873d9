# The two Zava MCP servers in one image (not built or run in this repository's CI: no container runtime there).
#   docker build -t zava-mcp .
#   docker run -e MONGODB_URI=... -e ZAVA_AUTH=oidc ... -p 8000:8000 zava-mcp                      # customer sales
#   docker run ... zava-mcp mcp_servers.sales_analysis --transport http --host 0.0.0.0 --stateless  # sales analysis
# See docs/deploy.md (compose with Atlas Local, Kubernetes).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    ZAVA_DATA_DIR=/home/zava/data ZAVA_LOG_FORMAT=json

RUN useradd --create-home --uid 10001 zava
WORKDIR /app
COPY pyproject.toml README.md ./
COPY zava_core ./zava_core
COPY zava_ditto ./zava_ditto
COPY zava_ops ./zava_ops
COPY seeding ./seeding
COPY mcp_servers ./mcp_servers
RUN pip install . && rm -rf /root/.cache

USER zava
EXPOSE 8000
# /health answers without a token and is outside the Host check.
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=2)"]
ENTRYPOINT ["python", "-m"]
CMD ["mcp_servers.customer_sales", "--transport", "http", "--host", "0.0.0.0", "--port", "8000", "--stateless"]
