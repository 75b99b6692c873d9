"""The chart views as the server ships them: one self-contained HTML document each, a strict CSP whose
hashes match the inline blocks, nothing remote, no way for data to become markup, and the four tools
linked to their views in tools/list (which stays under 20 KB). Offline: no database, no browser.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import re
from dataclasses import replace
from html.parser import HTMLParser
from importlib import resources

import pytest
from mcp.server.apps import APP_MIME_TYPE, EXTENSION_ID

from mcp_servers.sales_analysis.server import build_server
from mcp_servers.sales_analysis.views import VIEWS, charts, view_html
from zava_core.infra.config import Settings
from zava_core.scope import Identity

CHARTED = {"sales_trend", "sales_summary", "seasonal_profile", "inventory_health"}
ASSETS = resources.files("mcp_servers.sales_analysis.views").joinpath("assets")
# DOM sinks that parse a string as markup or code: the views never use them, so data stays text.
MARKUP_SINKS = re.compile(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function|"
                          r"setAttribute\(\s*[\"']on|\.on\w+\s*=\s*[\"'`]|createContextualFragment|srcdoc")


class _Blocks(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.open: str | None = None
        self.blocks: dict[str, list[str]] = {"script": [], "style": []}
        self.csp: str | None = None
        self.attributes: list[tuple[str, str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.attributes += [(tag, name, value) for name, value in attrs]
        values = dict(attrs)
        if tag == "meta" and (values.get("http-equiv") or "").lower() == "content-security-policy":
            self.csp = values.get("content")
        if tag in self.blocks:
            self.open = tag
            self.blocks[tag].append("")

    def handle_endtag(self, tag: str) -> None:
        self.open = None

    def handle_data(self, data: str) -> None:
        if self.open:
            self.blocks[self.open][-1] += data


def parsed(name: str) -> _Blocks:
    parser = _Blocks()
    parser.feed(view_html(name))
    return parser


def directives(csp: str) -> dict[str, list[str]]:
    return {part.split()[0]: part.split()[1:] for part in csp.split(";") if part.strip()}


@pytest.mark.parametrize("view", [v.name for v in VIEWS])
def test_each_view_allows_only_its_own_inline_blocks(view: str) -> None:
    doc = parsed(view)
    assert doc.csp is not None and len(doc.blocks["script"]) == 1 and len(doc.blocks["style"]) == 1
    policy = directives(doc.csp)

    def sha(text: str) -> str:
        return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"

    assert policy["script-src"] == [sha(doc.blocks["script"][0])]
    assert policy["style-src"] == [sha(doc.blocks["style"][0])]
    assert policy["default-src"] == ["'none'"] and policy["connect-src"] == ["'none'"]
    assert policy["object-src"] == ["'none'"] and policy["base-uri"] == ["'none'"]
    sources = {source for listed in policy.values() for source in listed}
    assert all(s in ("'none'", "data:") or s.startswith("'sha256-") for s in sources), sources


@pytest.mark.parametrize("view", [v.name for v in VIEWS])
def test_nothing_in_a_view_is_fetched_or_handled_inline(view: str) -> None:
    html = view_html(view)
    doc = parsed(view)
    assert not re.search(r"https?://", html.replace("http://www.w3.org/2000/svg", ""))
    assert not [(tag, name) for tag, name, _ in doc.attributes if name in ("src", "href") or name.startswith("on")]
    assert f'tool: "{next(v.tool for v in VIEWS if v.name == view)}"' in doc.blocks["script"][0]


def test_no_view_script_turns_a_string_into_markup() -> None:
    scripts = {entry.name: entry.read_text() for entry in ASSETS.iterdir() if entry.name.endswith(".js")}
    assert set(scripts) >= {"bridge.js", "draw.js", *(f"{v.name}.js" for v in VIEWS)}
    found = {name: MARKUP_SINKS.findall(text) for name, text in scripts.items() if MARKUP_SINKS.search(text)}
    assert found == {}


def test_an_asset_that_would_close_its_block_early_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from mcp_servers.sales_analysis.views import bundle

    real = bundle._asset
    monkeypatch.setattr(bundle, "_asset", lambda n: "x = '</SCRIPT>';" if n == "draw.js" else real(n))
    bundle.view_html.cache_clear()
    try:
        with pytest.raises(ValueError, match="</script"):
            bundle.view_html("trend")
    finally:
        bundle.view_html.cache_clear()
    with pytest.raises(ValueError, match="no view named"):
        bundle.view_html("pie")


def test_the_extension_serves_every_view_as_an_mcp_app() -> None:
    apps = charts()
    assert apps.identifier == EXTENSION_ID
    served = {b.resource.uri: b.resource for b in apps.resources()}
    assert set(served) == {v.uri for v in VIEWS}
    for view in VIEWS:
        resource = served[view.uri]
        assert resource.uri.startswith("ui://") and resource.mime_type == APP_MIME_TYPE
        assert resource.meta == {"ui": {"csp": {}, "prefersBorder": True}}  # no external origin declared
        assert asyncio.run(resource.read()) == view_html(view.name)


@pytest.fixture(scope="module")
def listed() -> list[dict]:
    offline = replace(Settings(), mongodb_uri="mongodb://127.0.0.1:9/")  # never contacted
    server = build_server(offline, Identity(head_office=True))
    return [t.model_dump(by_alias=True, exclude_none=True, mode="json") for t in asyncio.run(server.list_tools())]


def test_the_four_tools_name_their_view_and_the_others_none(listed: list[dict]) -> None:
    uris = {v.tool: v.uri for v in VIEWS}
    linked = {t["name"]: t["_meta"]["ui"]["resourceUri"] for t in listed if "ui" in t.get("_meta", {})}
    assert linked == uris and set(linked) == CHARTED


def test_tools_list_with_the_links_stays_under_20_kb(listed: list[dict]) -> None:
    assert len(json.dumps({"tools": listed}, separators=(",", ":")).encode()) < 20_000
