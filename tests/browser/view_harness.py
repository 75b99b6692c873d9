"""The browser test harness: a local web server for an MCP Apps host page built on the official host library
(`AppBridge` from @modelcontextprotocol/ext-apps, with the MCP TypeScript client), and headless Chromium driven
over the DevTools protocol.

    with Harness(chromium, bundle) as harness:
        page = harness.live(server_url, token, tool="sales_trend", arguments={...})   # a real host, a real server
        page = harness.given("trend", tool="sales_trend", arguments={...}, result={...})  # a result the test holds
        page.view("document.querySelectorAll('path.series-line').length")   # evaluated inside the view
        page.screenshot(path)

The view runs as hosts run it: its HTML (what the server serves from resources/read) goes into a sandboxed
iframe (`allow-scripts`, opaque origin) by `srcdoc`, and speaks to the host only through AppBridge's
postMessage transport. The host page and its scenarios are in apphost/ (`host.html`, `host.js`); esbuild
bundles `host.js` with its npm packages once per session (`build_host_bundle`).
"""

from __future__ import annotations

import base64
import fcntl
import io
import json
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import count
from pathlib import Path
from typing import Any

from browser_cdp import Browser, CDPError

from mcp_servers.sales_analysis.views import view_html

APPHOST = Path(__file__).with_name("apphost")
HOST_PAGE = (APPHOST / "host.html").read_bytes()
VIEWPORT = {"width": 820, "height": 1600, "deviceScaleFactor": 1, "mobile": False}  # tall enough for every view
NPM_INSTALL = "npm ci --prefix tests/browser/apphost"


def build_host_bundle(out_dir: Path) -> Path | str:
    """esbuild's browser bundle of apphost/host.js; a one-line reason (str) when the npm packages are missing."""
    esbuild = APPHOST / "node_modules" / ".bin" / "esbuild"
    if not esbuild.exists():
        missing = _install_host_packages()
        if missing:
            return missing
    out = out_dir / "host.bundle.js"
    done = subprocess.run([str(esbuild), str(APPHOST / "host.js"), "--bundle", "--format=esm", "--platform=browser",
                           "--log-level=error", f"--outfile={out}"], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return f"esbuild could not bundle the host page: {done.stderr.strip()[:300]}"
    return out


def _install_host_packages() -> str | None:
    """`npm ci` the pinned host packages once (under a lock: test workers may ask at once); why not, or None."""
    if shutil.which("npm") is None:
        return f"the MCP Apps host packages are not installed and npm is missing: install Node.js, run {NPM_INSTALL}"
    with (APPHOST / ".install.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (APPHOST / "node_modules" / ".bin" / "esbuild").exists():
            return None
        done = subprocess.run(["npm", "ci", "--prefix", str(APPHOST), "--no-audit", "--no-fund"],
                              capture_output=True, text=True, check=False, timeout=600)
    if done.returncode != 0:
        return f"{NPM_INSTALL} failed: {(done.stderr or done.stdout).strip()[-300:]}"
    return None


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
    bundle: bytes
    requests_seen: list[str]


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        self.server.requests_seen.append(self.path)
        path = self.path.split("#")[0]
        if path in ("/", "/host.html"):
            self._send(200, "text/html; charset=utf-8", HOST_PAGE)
        elif path == "/host.bundle.js":
            self._send(200, "text/javascript; charset=utf-8", self.server.bundle)
        elif path.startswith("/scenario/") and path.endswith(".json"):
            body = self.server.scenarios.get(path[len("/scenario/"):-len(".json")])
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

    def wait_host(self, expression: str, timeout: float = 15.0) -> Any:
        deadline = time.monotonic() + timeout
        while not (value := self.host(expression)):
            error = self.host("window.hostError || null")
            if error:
                raise AssertionError(f"the host page failed: {error}")
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
    def __init__(self, chromium: str, bundle: Path) -> None:
        self.chromium = chromium
        self.bundle = bundle
        self._ids = count(1)

    def __enter__(self) -> Harness:
        self.server = _Server(("127.0.0.1", 0), _Handler)
        self.server.scenarios, self.server.requests_seen = {}, []
        self.server.bundle = self.bundle.read_bytes()
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.browser = Browser(self.chromium)
        self._target: str | None = None
        return self

    def __exit__(self, *exc: object) -> None:
        self.browser.close()
        self.server.shutdown()
        self.server.server_close()

    @property
    def requests_seen(self) -> list[str]:
        return self.server.requests_seen

    def live(self, server: str, token: str | None, *, tool: str, arguments: dict[str, Any],
             server_tools: bool = True, theme: str = "light") -> ViewPage:
        """The host connects to `server` (its /mcp URL) with the token, reads the tool's view, calls the tool
        and shows the view with the result; the view's tools/call go to the server through AppBridge."""
        return self._open({"server": server, "token": token, "tool": tool, "arguments": arguments,
                           "serverTools": server_tools, "theme": theme})

    def given(self, view: str, *, tool: str, arguments: dict[str, Any], result: dict[str, Any],
              replies: list[dict[str, Any]] = (), server_tools: bool = True, theme: str = "light",
              html: str | None = None) -> ViewPage:
        """The view shown with a result the test holds (a CallToolResult); its tools/call get `replies` in
        turn, then an error."""
        return self._open({"html": html or view_html(view), "tool": tool, "arguments": arguments, "result": result,
                           "replies": list(replies), "serverTools": server_tools, "theme": theme})

    def _open(self, scenario: dict[str, Any]) -> ViewPage:
        """Open the host page with one scenario and wait until the view has drawn the result."""
        scenario_id = f"s{next(self._ids)}"
        self.server.scenarios[scenario_id] = json.dumps(scenario).encode()
        b = self.browser
        # One page at a time: a live host keeps a stream open to the server, and a browser allows six
        # connections per origin, so pages left open would starve the next one.
        if self._target is not None:
            b.call("Target.closeTarget", {"targetId": self._target})
        target = self._target = b.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = b.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for method in ("Page.enable", "Runtime.enable"):
            b.call(method, {}, session)
        b.call("Emulation.setDeviceMetricsOverride", VIEWPORT, session)
        b.call("Target.setAutoAttach", {"autoAttach": True, "waitForDebuggerOnStart": False, "flatten": True}, session)
        main_frame = b.call("Page.getFrameTree", {}, session)["frameTree"]["frame"]["id"]
        b.events.clear()
        b.call("Page.navigate", {"url": f"{self.base}/host.html#{scenario_id}"}, session)
        page = ViewPage(b, session, None, None)
        page.wait_host("window.resultSent === true", timeout=30)
        deadline = time.monotonic() + 10
        while page.view_session is None and page.view_context is None:
            for event in list(b.events):  # the last context created in the frame: its srcdoc document
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
