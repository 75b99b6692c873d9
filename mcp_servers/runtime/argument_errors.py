"""Arguments that fail validation, as a model can act on them: one line per argument, each saying what is
valid, starting with the error's code; nothing runs.

- An argument the tool does not have (`metric` for `metrics`) is named with the closest valid name and the
  tool's whole list; alone, it is one line: `unknown_argument: sales_summary has no argument 'metric' (did you
  mean 'metrics'?); its arguments: group_by, metrics, ...; nothing was run`.
- An argument that takes one of several shapes (`group_by`: a dimension or a list of them) is one plain line
  read from the tool's schema, not the validation library's per-branch type names:
  `group_by: one of store, category, ... or a list of up to 3 of them (got "region")`.

Pure functions (no MCP session, no I/O), tested in milliseconds.
"""

from __future__ import annotations

import difflib
import json
from typing import Any

from pydantic import ValidationError

from mcp_servers.runtime.json_schema import alternatives, resolve
from zava_core.errors import ErrorCode

MAX_SHOWN_INPUT = 40  # characters of a rejected value quoted back

_BOUNDS = {
    "greater_than_equal": "must be at least {ge}", "less_than_equal": "must be at most {le}",
    "greater_than": "must be more than {gt}", "less_than": "must be less than {lt}",
    "string_too_short": "must be at least {min_length} characters",
    "string_too_long": "must be at most {max_length} characters",
    "too_short": "must hold at least {min_length} items", "too_long": "must hold at most {max_length} items",
    "literal_error": "must be one of {expected}", "enum": "must be one of {expected}",
}
_PLAIN = {
    "missing": "is required and was not given",
    "int_type": "must be a whole number (a JSON number, not text or true/false)",
    "int_parsing": "must be a whole number", "int_from_float": "must be a whole number",
    "float_type": "must be a number", "float_parsing": "must be a number",
    "bool_type": "must be true or false", "bool_parsing": "must be true or false",
    "string_type": "must be text", "list_type": "must be a list",
    "dict_type": "must be an object", "model_type": "must be an object",
    "model_attributes_type": "must be an object",
}
_KINDS = {"string": "text", "integer": "a whole number", "number": "a number", "boolean": "true or false",
          "object": "an object", "array": "a list"}


def closest(name: str, valid: list[str]) -> str | None:
    """The valid name a misspelt one most likely meant (None when nothing is close)."""
    found = difflib.get_close_matches(name, valid, n=1, cutoff=0.6)
    if found:
        return found[0]
    # A prefix or a plural slip ('metric' for 'metrics', 'store' for 'stores') is closer than its ratio says.
    return next((v for v in valid if v.startswith(name) or name.startswith(v)), None) if len(name) > 2 else None


def unknown_argument_line(tool: str, name: str, valid: list[str]) -> str:
    """What to say about an argument `tool` does not have: the closest valid one and the whole list."""
    near = closest(name, valid)
    hint = f" (did you mean '{near}'?)" if near else ""
    listed = f"its arguments: {', '.join(valid)}" if valid else "it takes no arguments"
    return f"{tool} has no argument {json.dumps(name, ensure_ascii=False)}{hint}; {listed}"


def describe_argument_errors(tool: str, error: ValidationError,
                             schema: dict[str, Any] | None = None) -> tuple[ErrorCode, str]:
    """The code and the text for `error`, raised validating `tool`'s arguments against its input `schema`."""
    properties: dict[str, Any] = (schema or {}).get("properties", {})
    defs: dict[str, Any] = (schema or {}).get("$defs", {})
    valid = list(properties)
    lines: list[str] = []
    unknown = 0
    collapsed: set[str] = set()
    for detail in error.errors(include_url=False):
        loc = detail.get("loc", ())
        top = str(loc[0]) if loc else ""
        if detail.get("type") == "extra_forbidden" and len(loc) == 1:
            unknown += 1
            lines.append(unknown_argument_line(tool, top, valid))
            continue
        prop = properties.get(top)
        if prop is not None and len(_branches(prop, defs)) > 1:
            if top not in collapsed:  # one line for the argument, however many branches failed
                collapsed.add(top)
                given = _given_value(detail, loc)
                lines.append(f"{top}: {plain_words(prop, defs)}{given}")
            continue
        lines.append(f"{_location(loc)}: {_expected(detail)}{_given(detail)}")
    code = ErrorCode.UNKNOWN_ARGUMENT if unknown == len(lines) and lines else ErrorCode.INVALID_ARGUMENT
    if len(lines) == 1:
        return code, f"{code}: {tool}: {lines[0]}; nothing was run"
    return code, "\n".join([f"{code}: {tool}: {len(lines)} problems with the arguments (nothing was run); fix these "
                            "and call again:", *(f"- {line}" for line in lines)])


def plain_words(schema: dict[str, Any], defs: dict[str, Any] | None = None) -> str:
    """What a schema accepts, in words: `one of a, b or a list of up to 3 of them`, `text`, `a list of text`."""
    defs = defs or {}
    branches = _branches(schema, defs)
    words: list[str] = []
    previous: list | None = None
    for branch in branches:
        items = resolve(branch.get("items", {}), defs) if branch.get("type") == "array" else {}
        if previous is not None and items.get("enum") == previous:
            most = f"up to {branch['maxItems']} of them" if "maxItems" in branch else "them"
            words.append(f"a list of {most}")
        else:
            words.append(_words(branch, defs))
        previous = branch.get("enum")
    return " or ".join(words)


def _words(schema: dict[str, Any], defs: dict[str, Any]) -> str:
    if "enum" in schema:
        return "one of " + ", ".join(map(str, schema["enum"]))
    kind = schema.get("type", "object")
    if kind == "array":
        items = resolve(schema.get("items", {}), defs)
        inner = _KINDS.get(items.get("type", "object"), "values").removeprefix("a ").removeprefix("an ")
        inner = "objects" if inner == "object" else "numbers" if inner == "number" else inner
        return f"a list of {inner}"
    return _KINDS.get(kind, str(kind))


def _branches(schema: dict[str, Any], defs: dict[str, Any]) -> list[dict[str, Any]]:
    """The non-null alternatives a schema accepts (a nullable type is one alternative, not two)."""
    return [alt for alt in alternatives(schema, defs) if alt.get("type") != "null"]


def _location(loc: tuple) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "arguments"


def _expected(detail: dict[str, Any]) -> str:
    kind, ctx = detail.get("type", ""), detail.get("ctx") or {}
    if kind in _BOUNDS:
        try:
            return _BOUNDS[kind].format(**ctx)
        except (KeyError, IndexError):
            pass
    return _PLAIN.get(kind) or str(detail.get("msg", "is not valid")).rstrip(".")


def _given(detail: dict[str, Any]) -> str:
    if detail.get("type") in ("missing", "extra_forbidden") or "input" not in detail:
        return ""
    return _shown(detail["input"])


def _given_value(detail: dict[str, Any], loc: tuple) -> str:
    """The whole argument's value for a collapsed union line (a branch's error may point inside it)."""
    if detail.get("type") == "missing" or "input" not in detail:
        return ""
    return _shown(detail["input"]) if len(loc) <= 2 else ""


def _shown(value: Any) -> str:
    if isinstance(value, dict | list) and len(json.dumps(value, default=str)) > MAX_SHOWN_INPUT:
        return ""  # a whole object echoed back says nothing the caller does not have
    shown = json.dumps(value, default=str, ensure_ascii=False)
    if len(shown) > MAX_SHOWN_INPUT:
        shown = shown[:MAX_SHOWN_INPUT] + f"... ({len(shown):,} characters)"
    return f" (got {shown})"
