"""Every hint names tools and arguments that exist where it points: checked against the servers' contract.

The registry is `zava_core/hints.py`; the contract is what the servers list (`mcp_servers.contract`, offline).
"""

from __future__ import annotations

import ast
import asyncio
import re
from pathlib import Path

import pytest

from mcp_servers.contract import SERVERS, contract
from mcp_servers.tools.table import BY_NAME
from zava_core import hints

ROOT = Path(__file__).resolve().parents[2]
MARKED = re.compile(r"`([a-z][a-z0-9_]*)`")
SNAKE = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")


@pytest.fixture(scope="module")
def arguments() -> dict[str, set[str]]:
    """Each tool's argument names, from the servers' tools/list."""
    lists = {server: asyncio.run(contract(server)) for server in SERVERS}
    return {t["name"]: set(t["inputSchema"].get("properties", {})) for spec in lists.values() for t in spec["tools"]}


@pytest.mark.parametrize("key", sorted(hints.REGISTRY))
def test_a_hint_names_only_what_exists_where_it_points(key: str, arguments: dict[str, set[str]]) -> None:
    hint = hints.REGISTRY[key]
    shown_by = hint.shown_by
    for tool in shown_by or ():
        assert tool in arguments, f"{key}: shown by {tool}, which no server lists"
    marked = MARKED.findall(hint.template)
    assert marked, f"{key}: a hint names a tool or an argument (in backticks), or it does not belong here"
    for name in marked:
        if name in arguments:  # a tool: on the server the hint is shown on, or named with its server
            home = BY_NAME[name].server.title  # type: ignore[index]
            elsewhere = shown_by is None or any(BY_NAME[t].server.title != home for t in shown_by)  # type: ignore[index]
            assert not elsewhere or home in hint.template, f"{key}: names {name} of {home} without saying so"
        else:  # an argument: of every tool that shows the hint
            assert shown_by, f"{key}: names argument {name} but may be shown by any tool"
            missing = [t for t in shown_by if name not in arguments[t]]
            assert not missing, f"{key}: names argument {name}, which {missing} do not have"
    prose = re.sub(r"\{[^{}]*\}", "", MARKED.sub("", hint.template))  # neither names nor {placeholders}
    unmarked = {w for w in SNAKE.findall(prose)
                if w in arguments or any(w in args for args in arguments.values())}
    assert not unmarked, f"{key}: names {sorted(unmarked)} without backticks"


def test_a_hint_rendered_by_another_tool_is_noted() -> None:
    from zava_core.infra import telemetry

    before = len(hints.MISPLACED)
    with telemetry.caller(tool="sales_summary"):
        hints.MORE_GROUPS(cap=100)
    assert len(hints.MISPLACED) == before
    with telemetry.caller(tool="find_customers"):
        text = hints.MORE_GROUPS(cap=100)
    assert "`top_n`" in text and hints.MISPLACED[before:] == [(hints.MORE_GROUPS.template, "find_customers")]
    del hints.MISPLACED[before:]


def _strings(tree: ast.AST) -> list[tuple[int, str]]:
    """String constants (f-string parts included), leaving out docstrings and `__all__`."""
    skipped: set[int] = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) and \
                isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
            skipped.add(id(body[0].value))
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            skipped.update(id(n) for n in ast.walk(node.value))
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skipped]


def test_zava_core_names_tools_only_through_the_registry() -> None:
    """Outside the document descriptions (model/), a message that names a tool comes from zava_core.hints."""
    tools = re.compile(r"\b(" + "|".join(sorted(BY_NAME, key=len, reverse=True)) + r")\b")
    found = []
    for path in sorted((ROOT / "zava_core").rglob("*.py")):
        relative = path.relative_to(ROOT)
        if relative.parts[1] == "model" or path.name == "hints.py":
            continue
        for line, text in _strings(ast.parse(path.read_text())):
            if tools.search(text):
                found.append(f"{relative}:{line}: {text[:80]!r}")
    assert not found, "tool names outside zava_core/hints.py:\n" + "\n".join(found)
