"""The layout's rules, read from the source: imports point one way, no module imports itself back (type-only
and function-level imports included), and collections are named in one place.

    mcp_servers ──► zava_core ◄── seeding, zava_ops, zava_ditto, bench
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("zava_core", "mcp_servers", "seeding", "zava_ops", "zava_ditto", "bench")
# package -> packages of ours it must never import
FORBIDDEN = {
    "zava_core": ("mcp_servers", "seeding", "zava_ops", "zava_ditto", "bench", "mcp"),
    "zava_ditto": ("mcp_servers", "seeding", "zava_ops", "bench"),
    "zava_ops": ("mcp_servers", "seeding", "bench"),
    "seeding": ("mcp_servers", "zava_ops", "bench"),
    "mcp_servers": ("seeding", "zava_ops", "bench"),
}


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def imports(path: Path, name: str, known: set[str]) -> set[str]:
    """Every module of ours `path` imports, anywhere in it (top level, functions, TYPE_CHECKING blocks)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                out.add(target)
    return out


def test_no_package_imports_what_it_must_not() -> None:
    every = modules()
    wrong = []
    for name, path in every.items():
        package = name.split(".")[0]
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else []
            wrong += [f"{name} imports {n}" for n in names if n.split(".")[0] in FORBIDDEN.get(package, ())]
    assert wrong == []


def test_no_import_cycles_counting_type_only_and_lazy_imports() -> None:
    every = modules()
    known = set(every)
    graph = {name: imports(path, name, known) for name, path in every.items()}
    # A package's __init__ re-exporting its submodules is how packages work, not a cycle of the design.
    graph = {name: {t for t in targets if not (name.startswith(t + ".") and every[t].name == "__init__.py")}
             for name, targets in graph.items()}
    cycles: list[list[str]] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                cycles.append([*stack[stack.index(target):], target])
            elif target not in state:
                visit(target)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    assert cycles == []


def test_collections_are_named_only_in_zava_core_store() -> None:
    """`db["orders"]` style subscripts bypass the handles' live and scope rules: only zava_core/store has them."""
    subscript = re.compile(r"""\bdb\[\s*(["'A-Za-z_])""")
    found = [f"{path.relative_to(ROOT)}:{number}"
             for path in sorted(p for package in PACKAGES for p in (ROOT / package).rglob("*.py"))
             if "zava_core/store" not in path.as_posix()
             for number, line in enumerate(path.read_text().splitlines(), 1) if subscript.search(line)]
    assert found == []
