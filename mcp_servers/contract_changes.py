"""What changed between two snapshots of a server's contract, and whether it breaks a caller.

Breaking: a tool, prompt, resource or error code removed; an argument removed; a new required argument (or an
optional one made required); an argument's accepted values narrowed (a type, an enum value or a bound taken
away, a list shortened, a pattern added); a result field removed. Everything else (a new tool, a new optional
argument, a wider type, another description) is not. A breaking change needs the contract's version raised
(`mcp_servers.contract.CONTRACT_VERSION`); `python -m mcp_servers.contract write` and the contract test refuse
it otherwise.

Pure functions over the snapshots' JSON (tests/contract/*.json).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mcp_servers.runtime.json_schema import alternatives, resolve

_UPPER = ("maximum", "exclusiveMaximum", "maxLength", "maxItems")
_LOWER = ("minimum", "exclusiveMinimum", "minLength", "minItems")


@dataclass(frozen=True)
class Change:
    breaking: bool
    what: str

    def __str__(self) -> str:
        return ("breaking: " if self.breaking else "") + self.what


def changes(old: dict[str, Any], new: dict[str, Any]) -> list[Change]:
    """Every difference a caller could notice between two contracts of one server."""
    found: list[Change] = []
    old_tools, new_tools = _by(old.get("tools", []), "name"), _by(new.get("tools", []), "name")
    for name in sorted(old_tools.keys() - new_tools.keys()):
        found.append(Change(True, f"tool {name} removed"))
    for name in sorted(new_tools.keys() - old_tools.keys()):
        found.append(Change(False, f"tool {name} added"))
    for name in sorted(old_tools.keys() & new_tools.keys()):
        found += _tool_changes(name, old_tools[name], new_tools[name])
    for kind, key in (("prompt", "name"), ("resource", "uri"), ("resource template", "uriTemplate")):
        field = {"prompt": "prompts", "resource": "resources", "resource template": "resource_templates"}[kind]
        before, after = _by(old.get(field, []), key), _by(new.get(field, []), key)
        found += [Change(True, f"{kind} {k} removed") for k in sorted(before.keys() - after.keys())]
        found += [Change(False, f"{kind} {k} added") for k in sorted(after.keys() - before.keys())]
        if kind == "prompt":
            for k in sorted(before.keys() & after.keys()):
                found += _prompt_changes(k, before[k], after[k])
    codes_before, codes_after = set(old.get("error_codes", [])), set(new.get("error_codes", []))
    found += [Change(True, f"error code {c} removed") for c in sorted(codes_before - codes_after)]
    found += [Change(False, f"error code {c} added") for c in sorted(codes_after - codes_before)]
    if old.get("instructions") != new.get("instructions"):
        found.append(Change(False, "instructions changed"))
    return found


def _by(items: list[dict[str, Any]], key: str) -> dict[str, dict[str, Any]]:
    return {item[key]: item for item in items if key in item}


def _tool_changes(name: str, old: dict[str, Any], new: dict[str, Any]) -> list[Change]:
    found: list[Change] = []
    before, after = old.get("inputSchema", {}), new.get("inputSchema", {})
    old_args, new_args = before.get("properties", {}), after.get("properties", {})
    old_required, new_required = set(before.get("required", [])), set(after.get("required", []))
    for arg in sorted(old_args.keys() - new_args.keys()):
        found.append(Change(True, f"{name}: argument {arg} removed"))
    for arg in sorted(new_args.keys() - old_args.keys()):
        found.append(Change(arg in new_required, f"{name}: {'required' if arg in new_required else 'optional'} "
                                                 f"argument {arg} added"))
    for arg in sorted(old_args.keys() & new_args.keys()):
        if arg in new_required and arg not in old_required:
            found.append(Change(True, f"{name}: argument {arg} became required"))
        found += [Change(True, f"{name}: argument {arg}: {why}")
                  for why in narrowed(old_args[arg], new_args[arg], before.get("$defs", {}), after.get("$defs", {}))]
    if after.get("additionalProperties") is False and before.get("additionalProperties") is not False:
        found.append(Change(True, f"{name}: arguments it does not declare are now refused"))
    old_out = resolve(old.get("outputSchema") or {}, (old.get("outputSchema") or {}).get("$defs", {}))
    new_out = resolve(new.get("outputSchema") or {}, (new.get("outputSchema") or {}).get("$defs", {}))
    for field in sorted(old_out.get("properties", {}).keys() - new_out.get("properties", {}).keys()):
        found.append(Change(True, f"{name}: result field {field} removed"))
    rest = [key for key in ("description", "inputSchema", "outputSchema", "annotations")
            if old.get(key) != new.get(key)]
    if rest and not found:
        found.append(Change(False, f"{name}: {', '.join(rest)} changed"))
    return found


def _prompt_changes(name: str, old: dict[str, Any], new: dict[str, Any]) -> list[Change]:
    before = {a["name"]: a for a in old.get("arguments", [])}
    after = {a["name"]: a for a in new.get("arguments", [])}
    found = [Change(True, f"prompt {name}: argument {a} removed") for a in sorted(before.keys() - after.keys())]
    found += [Change(True, f"prompt {name}: argument {a} became required") for a in sorted(before.keys() & after.keys())
              if after[a].get("required") and not before[a].get("required")]
    found += [Change(bool(after[a].get("required")), f"prompt {name}: argument {a} added")
              for a in sorted(after.keys() - before.keys())]
    return found


def narrowed(old: dict[str, Any], new: dict[str, Any], old_defs: dict[str, Any] | None = None,
             new_defs: dict[str, Any] | None = None) -> list[str]:
    """Why `new` accepts less than `old` (empty when it accepts at least as much), for the keywords tools use."""
    old_defs, new_defs = old_defs or {}, new_defs or {}
    reasons: list[str] = []
    new_alts = alternatives(new, new_defs)
    for alt in alternatives(old, old_defs):
        kind = alt.get("type")
        same = [n for n in new_alts if n.get("type") == kind or (kind == "integer" and n.get("type") == "number")
                or n.get("type") is None]
        if not same:
            reasons.append(f"no longer accepts {kind or 'any value'}")
            continue
        options = [_alternative_narrowed(alt, n, old_defs, new_defs) for n in same]
        if all(options):
            reasons += min(options, key=len)
    return reasons


def _alternative_narrowed(old: dict[str, Any], new: dict[str, Any], old_defs: dict[str, Any],
                          new_defs: dict[str, Any]) -> list[str]:
    reasons: list[str] = []
    if "enum" in new:
        lost = [v for v in old.get("enum", [None]) if v not in new["enum"]] if "enum" in old else ["(any value)"]
        if lost:
            reasons.append(f"no longer accepts {', '.join(map(str, lost))}")
    for key in _UPPER:
        if key in new and (key not in old or new[key] < old[key]):
            reasons.append(f"{key} lowered to {new[key]}")
    for key in _LOWER:
        if key in new and (key not in old or new[key] > old[key]):
            reasons.append(f"{key} raised to {new[key]}")
    if "pattern" in new and new.get("pattern") != old.get("pattern"):
        reasons.append(f"pattern {new['pattern']} added")
    if old.get("type") == "array" or new.get("type") == "array":
        inner = narrowed(old.get("items", {}), new.get("items", {}), old_defs, new_defs)
        reasons += [f"items: {why}" for why in inner]
    old_obj, new_obj = resolve(old, old_defs), resolve(new, new_defs)
    if "properties" in old_obj or "properties" in new_obj:
        for field, schema in old_obj.get("properties", {}).items():
            if field in new_obj.get("properties", {}):
                reasons += [f"{field}: {why}" for why in
                            narrowed(schema, new_obj["properties"][field], old_defs, new_defs)]
        added = set(new_obj.get("required", [])) - set(old_obj.get("required", []))
        reasons += [f"{field} now required" for field in sorted(added)]
        if new_obj.get("additionalProperties") is False and old_obj.get("additionalProperties") is not False:
            reasons.append("undeclared fields now refused")
    return reasons
