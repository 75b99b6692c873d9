"""The browser test harness: a local web server for a fake MCP Apps host page, and headless Chromium
driven over the DevTools protocol to render a view with a recorded tool result.

    with Harness(chromium) as harness:
        page = harness.open("trend", tool="sales_trend", arguments={...}, structured={...})
        page.view("document.querySelectorAll('path.series-line').length")   # evaluated inside the view
        page.screenshot(path)

The view runs as hosts run it: its HTML (exactly what the server serves) goes into a sandboxed iframe
(`allow-scripts`, opaque origin) by `srcdoc`, and speaks to the host page only by postMessage.
"""

from __future__ import annotations

import base64
import io
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import count
from pathlib import Path
from typing import Any

from browser_cdp import Browser, CDPError

from mcp_servers.sales_analysis.views import view_html

HOST_PAGE = Path(__file__).with_name("host.html").read_bytes()
DATA = Path(__file__).with_name("data")
VIEWPORT = {"width": 820, "height": 1400, "deviceScaleFactor": 1, "mobile": False}  # tall enough for every view


def fixture(name: str) -> dict[str, Any]:
    return json.loads((DATA / f"{name}.json").read_text())


def tool_result(structured: dict[str, Any], *, is_error: bool = False, text: str | None = None) -> dict[str, Any]:
    """A CallToolResult as a host passes it on: compact text content beside the structured content."""
    body = text if text is not None else json.dumps(structured, separators=(",", ":"))[:2000]
    result: dict[str, Any] = {"content": [{"type": "text", "text": body}], "isError": is_error}
    if not is_error:
        result["structuredContent"] = structured
    return result


def _has_content(png: bytes) -> bool:
    """More than a background and a border (pillow comes with matplotlib, a test dependency)."""
    try:
        from PIL import Image
    except ImportError:
        return True
    colours = Image.open(io.BytesIO(png)).convert("RGB").getcolors(maxcolors=1 << 16)
    return colours is None or len(colours) > 16


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    scenarios: dict[str, bytes]
    requests_seen: list[str]


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        self.server.requests_seen.append(self.path)
        if self.path.split("#")[0] in ("/", "/host.html"):
            self._send(200, "text/html; charset=utf-8", HOST_PAGE)
        elif self.path.startswith("/scenario/") and self.path.endswith(".json"):
            body = self.server.scenarios.get(self.path[len("/scenario/"):-len(".json")])
            self._send(200 if body else 404, "application/json", body or b"{}")
        else:
            self._send(404, "text/plain", b"not found")

    def _send(self, status: int, kind: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass


@dataclass
class ViewPage:
    browser: Browser
    session: str  # the host page
    view_session: str | None  # the view's iframe when Chromium put it in its own process
    view_context: int | None  # else: the view's execution context inside the page's process
    notes: list[str] = field(default_factory=list)

    def _evaluate(self, expression: str, session: str, context: int | None = None) -> Any:
        params: dict[str, Any] = {"expression": expression, "returnByValue": True, "awaitPromise": True}
        if context is not None:
            params["contextId"] = context
        reply = self.browser.call("Runtime.evaluate", params, session)
        if "exceptionDetails" in reply:
            details = reply["exceptionDetails"]
            raise CDPError(f"{expression[:80]!r} threw: {details.get('exception', {}).get('description') or details}")
        return reply["result"].get("value")

    def view(self, expression: str) -> Any:
        """Evaluate inside the view's document (DevTools evaluation is not subject to the page's CSP)."""
        if self.view_session:
            return self._evaluate(expression, self.view_session)
        return self._evaluate(expression, self.session, self.view_context)

    def host(self, expression: str) -> Any:
        return self._evaluate(expression, self.session)

    def wait_view(self, expression: str, timeout: float = 10.0) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            value = self.view(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting in the view for {expression!r}; status: "
                                     f"{self.view('document.getElementById(`status`).textContent')!r}")
            time.sleep(0.05)

    def wait_host(self, expression: str, timeout: float = 10.0) -> Any:
        deadline = time.monotonic() + timeout
        while not (value := self.host(expression)):
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting in the host for {expression!r}")
            time.sleep(0.05)
        return value

    def settle(self) -> None:
        """Wait until the frame has taken the size the view last reported (the host resizes it)."""
        self.wait_host("window.lastSize && Math.abs(document.getElementById('view').getBoundingClientRect().height"
                       " - Math.max(60, window.lastSize.height) - 2) < 2")
        # Two animation frames in the view and in the host: the resized frame has been painted.
        frames = "new Promise(done => requestAnimationFrame(() => requestAnimationFrame(() => done(true))))"
        self.view(frames)
        self.host(frames)

    def screenshot(self, path: Path) -> bytes:
        self.settle()
        box = self.host("(() => { const r = document.getElementById('view').getBoundingClientRect();"
                        " return {x: r.x, y: r.y, width: r.width, height: r.height}; })()")
        # Within the viewport: capturing beyond it re-lays the page out, and the view's frame can miss the shot.
        shot = self.browser.call("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": False,
                                                            "clip": {**box, "scale": 1}}, self.session)
        data = base64.b64decode(shot["data"])
        assert _has_content(data), f"the screenshot for {path.name} is blank: the view had not been painted"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return data


class Harness:
    def __init__(self, chromium: str) -> None:
        self.chromium = chromium
        self._ids = count(1)

    def __enter__(self) -> Harness:
        self.server = _Server(("127.0.0.1", 0), _Handler)
        self.server.scenarios, self.server.requests_seen = {}, []
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.browser = Browser(self.chromium)
        return self

    def __exit__(self, *exc: object) -> None:
        self.browser.close()
        self.server.shutdown()
        self.server.server_close()

    @property
    def requests_seen(self) -> list[str]:
        return self.server.requests_seen

    def open(self, view: str, *, tool: str, arguments: dict[str, Any], structured: dict[str, Any] | None = None,
             result: dict[str, Any] | None = None, replies: list[dict[str, Any]] = (), server_tools: bool = True,
             theme: str = "light", html: str | None = None) -> ViewPage:
        """Open the host page with one scenario and wait until the view has drawn the result."""
        scenario_id = f"s{next(self._ids)}"
        scenario = {"html": html or view_html(view), "tool": tool, "arguments": arguments,
                    "result": result or tool_result(structured or {}), "replies": list(replies),
                    "serverTools": server_tools, "theme": theme}
        self.server.scenarios[scenario_id] = json.dumps(scenario).encode()
        b = self.browser
        target = b.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = b.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for method in ("Page.enable", "Runtime.enable"):
            b.call(method, {}, session)
        b.call("Emulation.setDeviceMetricsOverride", VIEWPORT, session)
        b.call("Target.setAutoAttach", {"autoAttach": True, "waitForDebuggerOnStart": False, "flatten": True}, session)
        main_frame = b.call("Page.getFrameTree", {}, session)["frameTree"]["frame"]["id"]
        b.events.clear()
        b.call("Page.navigate", {"url": f"{self.base}/host.html#{scenario_id}"}, session)
        page = ViewPage(b, session, None, None)
        page.wait_host("window.resultSent === true")
        deadline = time.monotonic() + 10
        while page.view_session is None and page.view_context is None:
            for event in list(b.events):
                params = event.get("params", {})
                if event.get("method") == "Target.attachedToTarget" and params["targetInfo"]["type"] == "iframe":
                    page.view_session = params["sessionId"]
                    b.call("Runtime.enable", {}, page.view_session)
                elif (event.get("method") == "Runtime.executionContextCreated" and event.get("sessionId") == session
                      and params["context"]["auxData"].get("frameId") != main_frame
                      and params["context"]["auxData"].get("isDefault")):
                    page.view_context = params["context"]["id"]
            if time.monotonic() > deadline:
                raise AssertionError("the view's frame never showed up")
            b.pump(0.05)
        page.wait_view("document.readyState === 'complete' && typeof App === 'object' && (App.result !== null"
                       " || document.getElementById('status').classList.contains('error'))")
        return page
