"""Safety rules for aggregation pipelines written by an untrusted caller (an LLM): pure functions, no I/O.

Three steps, in this order:

1. `parse_pipeline`: Extended JSON to BSON values (`{"$date": ...}`, `{"$oid": ...}`, ...).
2. `check_pipeline`: an allowlist of stages, operators refused at any depth (writes, JavaScript,
   server statistics, unscoped graph walks, text search, DBRefs), only harmless `$$` variables, size
   limits (`zava_core.limits`), the operators the engine cannot bound by itself allowed only
   in a bounded form (`guard_bounds`: literal regular expressions, bounded windows, `$range`), and no
   value that copies itself out of proportion to the data (`guard_growth`).
3. `scope_pipeline`: the caller's store scope and the `deleted: false` filter put in front of every
   read of a collection: the pipeline itself, each `$lookup` and `$unionWith` sub-pipeline, and the
   ones nested in `$facet`. A store manager's read of customers also has `stores_shopped` cut to
   the manager's stores right after it, as find_customers shows it.

The store scope is enforced by (3), not by (2): (2) only keeps out what (3) cannot scope (other
databases, `$graphLookup`, `$documents`, JavaScript) and what could write, reach outside the data
or keep the shared engine busy for everyone.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import Any

from bson import Code, DBRef, Regex, json_util
from bson.errors import BSONError

from zava_core.analysis import guard_bounds as bounds
from zava_core.analysis.guard_growth import check_growth
from zava_core.errors import InvalidArgument
from zava_core.limits import (
    MAX_PATH_CHARS,
    MAX_PIPELINE_BYTES,
    MAX_PIPELINE_DEPTH,
    MAX_RANGE_ITEMS,
    MAX_STAGES,
    MAX_UNWINDS,
    MAX_VALUE_DEPTH,
)
from zava_core.model import QUERYABLE
from zava_core.scope import Scope

ALLOWED_STAGES = frozenset({
    "$match", "$group", "$project", "$addFields", "$set", "$unset", "$sort", "$limit", "$skip", "$unwind",
    "$count", "$facet", "$bucket", "$bucketAuto", "$sortByCount", "$replaceRoot", "$replaceWith",
    "$setWindowFields", "$lookup", "$unionWith",
})

_READ_ONLY = "this tool is read-only: return the rows instead of writing them"
_NO_JS = "JavaScript is not allowed: use aggregation expressions ($expr, $cond, $reduce, $let, ...)"
_ADMIN = "server and session statistics are not available: query the dataset collections"
_SEARCH = "Atlas Search is not available here: use $match (with $regex) or the product search tools"
_TEXT = ('text search is not available here: use $regex with an escaped literal (e.g. {"$regex": "drill", '
         '"$options": "i"}) or the product search tools')
# json_util turns {"$ref": ..., "$id": ...} into a DBRef, whose contents the walk would not see.
_DBREF = "DBRef values ($ref, $id, $db) are not allowed: compare the id field itself (e.g. customer_id)"

# Refused wherever they appear as a key, however deep (in $facet, sub-pipelines, expressions).
REFUSED: dict[str, str] = {
    "$out": _READ_ONLY,
    "$merge": _READ_ONLY,
    "$where": _NO_JS,
    "$function": _NO_JS,
    "$accumulator": _NO_JS,
    "$currentOp": _ADMIN,
    "$listSessions": _ADMIN,
    "$listLocalSessions": _ADMIN,
    "$planCacheStats": _ADMIN,
    "$indexStats": _ADMIN,
    "$collStats": _ADMIN,
    "$changeStream": _ADMIN,
    "$documents": "inline documents are not allowed: read from a dataset collection",
    "$search": _SEARCH,
    "$vectorSearch": _SEARCH,
    "$searchMeta": _SEARCH,
    "$graphLookup": "it walks a collection outside your store scope: use $lookup (scoped) instead",
    "$text": _TEXT,
    "$ref": _DBREF,
    "$id": _DBREF,
    "$db": _DBREF,
}

ALLOWED_SYSTEM_VARIABLES = frozenset({"ROOT", "CURRENT", "REMOVE", "NOW"})
# MongoDB's own rule for user variables; it also means a binding can never shadow a system variable
# (those are all capitals), so `let: {USER_ROLES: ...}` cannot whitelist `$$USER_ROLES`.
_USER_VARIABLE = re.compile(r"^[a-z][A-Za-z0-9_]*$")

_LOOKUP_KEYS = frozenset({"from", "localField", "foreignField", "let", "pipeline", "as"})
_UNION_KEYS = frozenset({"coll", "pipeline"})

# Where something is: one (stage number, path inside that stage) per pipeline level.
Location = tuple[tuple[int, str], ...]


# --- parsing ----------------------------------------------------------------------------------


def parse_pipeline(pipeline: str | list) -> list[dict]:
    """The pipeline as BSON-ready Python values; Extended JSON (`$date`, `$oid`, `$numberDecimal`) converted.

    A list is round-tripped through Extended JSON too, so `{"$date": ...}` objects inside it become dates.
    """
    if isinstance(pipeline, str):
        text = pipeline
    elif isinstance(pipeline, list):
        text = _dumps(pipeline)
    else:
        raise InvalidArgument('pipeline must be a JSON array of stages, e.g. [{"$match": {"store_id": "..."}}]')
    _check_size(text)
    try:
        parsed = json_util.loads(text)
    except RecursionError:
        raise InvalidArgument(f"pipeline is nested too deeply (limit {MAX_VALUE_DEPTH} levels)") from None
    except (ValueError, TypeError, KeyError, ArithmeticError, BSONError) as exc:
        # ArithmeticError covers decimal.Overflow from a $numberDecimal beyond Decimal128's range.
        raise InvalidArgument(f"pipeline is not valid (Extended) JSON: {str(exc)[:200]}") from None
    if not isinstance(parsed, list):
        raise InvalidArgument('pipeline must be a JSON array of stages, e.g. [{"$match": {"store_id": "..."}}]')
    return parsed


def _dumps(value: Any) -> str:
    try:
        return json_util.dumps(value, json_options=json_util.RELAXED_JSON_OPTIONS)
    except RecursionError:
        raise InvalidArgument(f"pipeline is nested too deeply (limit {MAX_VALUE_DEPTH} levels)") from None
    except (TypeError, ValueError) as exc:
        raise InvalidArgument(f"pipeline holds a value that is not JSON: {str(exc)[:200]}") from None


def _check_size(text: str) -> None:
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError:  # a lone surrogate (\ud800): not text any database could store
        raise InvalidArgument("pipeline holds a character that is not valid UTF-8 (a lone surrogate such as "
                              "\\ud800): send plain text") from None
    if size > MAX_PIPELINE_BYTES:
        raise InvalidArgument(f"pipeline is {size:,} bytes of JSON; the limit is {MAX_PIPELINE_BYTES:,}: "
                              "split the question into smaller pipelines")


# --- checking ---------------------------------------------------------------------------------


@dataclass
class _Walk:
    """What the walk has seen so far; variable uses are checked at the end because a `let` may
    come after the sub-pipeline that uses it in the JSON."""

    stages: int = 0
    unwinds: int = 0
    range_items: int = 1  # the product of the sizes of every $range so far
    bound: set[str] = field(default_factory=set)
    uses: list[tuple[str, Location, str]] = field(default_factory=list)


def check_pipeline(collection: str, pipeline: list[dict]) -> None:
    """Raise InvalidArgument (naming the stage and what to do) unless the pipeline is safe to run."""
    check_collection(collection, "collection")
    walk = _Walk()
    _check_stages(pipeline, (), 1, walk)
    for name, loc, path in walk.uses:
        if name not in ALLOWED_SYSTEM_VARIABLES and name not in walk.bound:
            raise InvalidArgument(f"{_where(_at(loc, path))}: variable $${name} is not allowed; use $$ROOT, "
                                  "$$CURRENT, $$REMOVE, $$NOW or a variable bound with let/as")
    check_growth(pipeline, _where)
    _check_size(_dumps(pipeline))


def check_collection(name: object, what: str) -> None:
    valid = ", ".join(QUERYABLE)
    if not isinstance(name, str):
        raise InvalidArgument(f"{what}: expected a collection name (a string; other databases and "
                              f"{{db, coll}} are not allowed); use one of: {valid}")
    if name.startswith("system."):
        raise InvalidArgument(f"{what}: system collections ({name}) are not readable; use one of: {valid}")
    if name not in QUERYABLE:
        raise InvalidArgument(f"{what}: unknown collection {name!r}; use one of: {valid}")


def _check_stages(stages: object, outer: Location, level: int, walk: _Walk) -> None:
    here = _where(outer) if outer else "pipeline"
    if not isinstance(stages, list):
        raise InvalidArgument(f"{here}: a pipeline must be an array of stages")
    if level > MAX_PIPELINE_DEPTH:
        raise InvalidArgument(f"{here}: pipelines are nested more than {MAX_PIPELINE_DEPTH} levels deep; "
                              "flatten the $lookup/$facet/$unionWith nesting")
    for number, stage in enumerate(stages, 1):
        walk.stages += 1
        if walk.stages > MAX_STAGES:
            raise InvalidArgument(f"{here}: more than {MAX_STAGES} stages (nested ones included); "
                                  "split the question into smaller pipelines")
        _check_stage(stage, (*outer, (number, "")), level, walk)


def _check_stage(stage: object, loc: Location, level: int, walk: _Walk) -> None:
    if not isinstance(stage, dict) or len(stage) != 1:
        keys = ", ".join(map(str, stage)) if isinstance(stage, dict) else type(stage).__name__
        raise InvalidArgument(f"{_where(loc)}: a stage is an object with exactly one key such as "
                              f'{{"$match": {{...}}}} (got {keys or "an empty object"}); split it into stages')
    name, body = next(iter(stage.items()))
    if name in REFUSED:
        raise InvalidArgument(f"{_where(loc)}: {name} is not allowed; {REFUSED[name]}")
    if name not in ALLOWED_STAGES:
        raise InvalidArgument(f"{_where(loc)}: {name} is not an allowed stage; use one of: "
                              + ", ".join(sorted(ALLOWED_STAGES)))
    if name == "$unwind":
        walk.unwinds += 1
        if walk.unwinds > MAX_UNWINDS:
            raise InvalidArgument(f"{_where(loc)}: more than {MAX_UNWINDS} $unwind stages (the $unwind limit, nested "
                                  "ones included; each multiplies the rows): $group or $project the arrays instead")
    if name == "$lookup":
        _check_lookup(body, loc, level, walk)
    elif name == "$unionWith":
        _check_union(body, loc, level, walk)
    elif name == "$facet":
        _check_facet(body, loc, level, walk)
    else:
        _check_value(body, loc, name, 1, walk)
        bounds.check_stage(name, body, lambda path: _where(_at(loc, path)))


def _check_lookup(body: object, loc: Location, level: int, walk: _Walk) -> None:
    if not isinstance(body, dict):
        raise InvalidArgument(f"{_where(_at(loc, '$lookup'))}: $lookup takes an object with from, as and "
                              "localField/foreignField and/or let/pipeline")
    _refuse_keys(body, _LOOKUP_KEYS, _at(loc, "$lookup"))
    check_collection(body.get("from"), f"{_where(_at(loc, '$lookup.from'))}")
    lets = body.get("let", {})
    if not isinstance(lets, dict):
        raise InvalidArgument(f"{_where(_at(loc, '$lookup.let'))}: let must be an object of variable: expression")
    for variable, value in lets.items():
        _bind(variable, _at(loc, "$lookup.let"), walk)
        _check_value(value, loc, f"$lookup.let.{variable}", 2, walk)
    for key in ("localField", "foreignField", "as"):
        if key in body:
            _check_value(body[key], loc, f"$lookup.{key}", 1, walk)
    if "pipeline" in body:
        _check_stages(body["pipeline"], _at(loc, "$lookup.pipeline"), level + 1, walk)


def _check_union(body: object, loc: Location, level: int, walk: _Walk) -> None:
    if isinstance(body, str):
        check_collection(body, _where(_at(loc, "$unionWith")))
        return
    if not isinstance(body, dict):
        raise InvalidArgument(f"{_where(_at(loc, '$unionWith'))}: $unionWith takes a collection name or "
                              "{coll, pipeline}")
    _refuse_keys(body, _UNION_KEYS, _at(loc, "$unionWith"))
    check_collection(body.get("coll"), _where(_at(loc, "$unionWith.coll")))
    if "pipeline" in body:
        _check_stages(body["pipeline"], _at(loc, "$unionWith.pipeline"), level + 1, walk)


def _check_facet(body: object, loc: Location, level: int, walk: _Walk) -> None:
    if not isinstance(body, dict) or not body:
        raise InvalidArgument(f"{_where(_at(loc, '$facet'))}: $facet takes an object of name: [stages]")
    for name, stages in body.items():
        _check_stages(stages, _at(loc, f"$facet.{name}"), level + 1, walk)


def _refuse_keys(body: dict, allowed: frozenset[str], loc: Location) -> None:
    extra = sorted(set(body) - allowed)
    if extra:
        raise InvalidArgument(f"{_where(loc)}: option {', '.join(extra)} is not allowed (other databases are "
                              f"not readable); use only: {', '.join(sorted(allowed))}")


def _check_value(value: Any, loc: Location, path: str, depth: int, walk: _Walk) -> None:
    """Walk every key and value under a stage: refused operators, JavaScript, `$$` variables, bindings."""
    if depth > MAX_VALUE_DEPTH:
        raise InvalidArgument(f"{_where(_at(loc, path))}: nested more than {MAX_VALUE_DEPTH} levels deep")
    if isinstance(value, dict):
        for key, item in value.items():
            if key in REFUSED:
                raise InvalidArgument(f"{_where(_at(loc, path))}: {key} is not allowed; {REFUSED[key]}")
            if key in bounds.BOUNDED_OPERATORS:
                bounds.check_operator(key, item, _where(_at(loc, f"{path}.{key}")))
            elif key == "$range":
                _count_range(item, _where(_at(loc, f"{path}.$range")), walk)
            _bind_operator(key, item, _at(loc, path), walk)
            _check_value(item, loc, f"{path}.{key}", depth + 1, walk)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_value(item, loc, f"{path}[{index}]", depth + 1, walk)
    elif isinstance(value, Code):
        raise InvalidArgument(f"{_where(_at(loc, path))}: {_NO_JS}")
    elif isinstance(value, (Regex, re.Pattern)):
        bounds.check_regex_value(value, _where(_at(loc, path)))
    elif isinstance(value, DBRef):
        raise InvalidArgument(f"{_where(_at(loc, path))}: {_DBREF}")
    elif isinstance(value, str) and value.startswith("$$"):
        walk.uses.append((value[2:].split(".", 1)[0], loc, path))


def _count_range(spec: Any, where: str, walk: _Walk) -> None:
    # Multiplied, not added: a $range inside a $map over another one makes their product per document.
    walk.range_items *= max(1, bounds.range_items(spec, where))
    if walk.range_items > MAX_RANGE_ITEMS:
        raise InvalidArgument(f"{where}: the $range arrays of this pipeline make more than {MAX_RANGE_ITEMS:,} "
                              "elements (the $range limit; their sizes multiply): use fewer or smaller ranges")


def _bind_operator(operator: str, spec: Any, loc: Location, walk: _Walk) -> None:
    """Record the variables an expression operator binds ($map/$filter `as`, $reduce, $let `vars`)."""
    if not isinstance(spec, dict):
        return
    if operator in ("$map", "$filter"):
        _bind(spec.get("as", "this"), loc, walk)
    elif operator == "$reduce":
        walk.bound.update({"this", "value"})
    elif operator == "$let" and isinstance(spec.get("vars"), dict):
        for variable in spec["vars"]:
            _bind(variable, loc, walk)


def _bind(variable: object, loc: Location, walk: _Walk) -> None:
    if not isinstance(variable, str) or not _USER_VARIABLE.match(variable):
        raise InvalidArgument(f"{_where(loc)}: variable name {variable!r} must start with a lower-case letter "
                              "and use only letters, digits and _ (capitalised names are system variables)")
    walk.bound.add(variable)


def _at(loc: Location, path: str) -> Location:
    """The same stage, pointing at `path` inside it."""
    return (*loc[:-1], (loc[-1][0], path))


def _where(loc: Location) -> str:
    """E.g. `stage 3 ($facet.by_store, stage 1)`: a stage number per level, with the path inside it."""
    text = ""
    for number, path in reversed(loc):
        path = path if len(path) <= MAX_PATH_CHARS else path[:MAX_PATH_CHARS] + "..."
        inner = ", ".join(part for part in (path, text) if part)
        text = f"stage {number}" + (f" ({inner})" if inner else "")
    return text


# --- scoping ----------------------------------------------------------------------------------


def scope_filter(collection: str, scope: Scope) -> dict:
    """The filter every read of `collection` gets: the caller's stores (unless head office) and not deleted
    (what `Handle.live` gives a query, for a collection named in a pipeline)."""
    return {**scope.filter(QUERYABLE[collection].store_scope), "deleted": False}


def scoped_read(collection: str, scope: Scope) -> list[dict]:
    """The stages put first in every read of `collection`: the scope filter and, for a store manager reading
    customers, `stores_shopped` cut to the manager's stores (where else a customer shops is not theirs to see,
    as in find_customers). A value that is not a map is removed; a missing one stays missing."""
    stages = [{"$match": scope_filter(collection, scope)}]
    if not scope.head_office and QUERYABLE[collection].store_scope == "customer":
        stages.append({"$set": {"stores_shopped": scope.shopped_expression()}})
    return stages


def scope_pipeline(collection: str, pipeline: list[dict], scope: Scope) -> list[dict]:
    """A new pipeline reading only what `scope` may see. Expects one that passed `check_pipeline`."""
    stages = copy.deepcopy(pipeline)  # the caller's pipeline is never mutated
    return [*scoped_read(collection, scope), *_scope_stages(stages, scope)]


def _scope_stages(stages: list[dict], scope: Scope) -> list[dict]:
    return [_scope_stage(stage, scope) for stage in stages]


def _scope_stage(stage: dict, scope: Scope) -> dict:
    ((name, body),) = stage.items()
    if name == "$lookup":
        return {name: _scope_lookup(body, scope)}
    if name == "$unionWith":
        union = {"coll": body} if isinstance(body, str) else dict(body)
        union["pipeline"] = [*scoped_read(union["coll"], scope), *_scope_stages(union.get("pipeline", []), scope)]
        return {name: union}
    if name == "$facet":
        # Facets read the documents already scoped by the outer pipeline; only their reads of other
        # collections need the scope.
        return {name: {facet: _scope_stages(stages, scope) for facet, stages in body.items()}}
    return stage


def _scope_lookup(body: dict, scope: Scope) -> dict:
    """The scope $match first in the lookup's pipeline.

    A localField/foreignField lookup keeps its fields and gains a pipeline (the combined form, MongoDB
    5.0+). Rewriting it to let + `$expr: {$eq}` would also work, but the embedded engine then scans
    the whole foreign collection per document: 10 s for 20 orders' lines against 0.18 s.
    """
    lookup = dict(body)
    lookup["pipeline"] = [*scoped_read(body["from"], scope), *_scope_stages(body.get("pipeline", []), scope)]
    return lookup
