"""Operators allowed only in a bounded form, because the engine cannot bound them by itself: pure checks.

The embedded engine runs each command on one thread under Python's GIL and checks `maxTimeMS` only
between documents, so one expensive call inside an operator freezes it for every caller (a
catastrophic-backtracking `$regexMatch` on a 30-character input held it ~27 s; an unbounded window
with `$push: "$$ROOT"` over order_items ran 442 s and grew it to 2.1 GB). The rules, each a limit in
`zava_core.limits`:

- **Regular expressions are escaped literals.** `$regex` (with `$options`), BSON regex values
  (`{"$regularExpression": ...}`, `/.../` from a driver) and the `regex` of `$regexMatch`,
  `$regexFind`, `$regexFindAll`: an optional `^`, literal characters (regex metacharacters escaped
  with a backslash; a backslash before a letter or digit is a class or back-reference, so refused),
  an optional final `$`; options "i" or none; at most MAX_REGEX_CHARS. A literal cannot backtrack:
  matching it costs at most (input length) x (pattern length). A pattern given as an expression or
  field path is refused, since its value is unknown until it runs.
- **Windows are a bounded number of documents.** Every `$setWindowFields` output that takes a window
  must say `window: {documents: [a, b]}` with integers (or "current") within MAX_WINDOW_DOCUMENTS of
  the current document and spanning at most that many; "unbounded", `range` windows (their size
  depends on how dense the data is) and outputs without a window (the default is the whole
  partition) are refused. Operators that take no window ($rank, $shift, ...) do a fixed amount of
  work per document. Operators that collect arrays ($push, $addToSet, $topN, ...) are refused in
  $setWindowFields altogether: each document would carry a copy of its window.
- **`$range` has literal integer bounds**, and the sizes of all of them in a pipeline multiply to at
  most MAX_RANGE_ITEMS (the guard keeps the product).
- **Whole documents are not collected.** `$push`, `$addToSet` and the N-accumulators in `$group`,
  `$bucket` and `$bucketAuto` may not collect `$$ROOT`/`$$CURRENT`: name the fields instead. (A
  pipeline can still rebuild a whole document field by field; this keeps out the obvious form, and
  what remains grows with the collection, like `$sort` does, not with its square.)
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable
from typing import Any

from bson import Regex

from zava_core.errors import InvalidArgument, echo
from zava_core.limits import MAX_RANGE_ITEMS, MAX_REGEX_CHARS, MAX_WINDOW_DOCUMENTS

# Formats the location of a path inside the current stage for a message, e.g. `stage 2 ($match.name)`.
At = Callable[[str], str]

REGEX_OPERATORS = frozenset({"$regexMatch", "$regexFind", "$regexFindAll"})
# Keys whose values `check_operator` checks wherever they appear.
BOUNDED_OPERATORS = REGEX_OPERATORS | {"$regex", "$options"}

_REGEX_HOW = ('only escaped literals are allowed, e.g. {"$regex": "^drill", "$options": "i"}: ^ and $ as anchors, '
              'a backslash before . * + ? ( ) [ ] { } | \\ ^ $, options "i" only; or use the product search tools')
_METACHARACTERS = frozenset(".*+?()[]{}|\\^$")
# After a backslash, punctuation is itself in PCRE and in Python's re; a letter or digit is a class,
# an anchor or a back-reference.
_ESCAPABLE = frozenset(string.punctuation)
# re.UNICODE is what Python compiles text patterns with anyway (and json_util makes of "u"): no new work.
_ALLOWED_FLAGS = re.IGNORECASE | re.UNICODE

_NO_WINDOW = frozenset({"$rank", "$denseRank", "$documentNumber", "$shift", "$locf", "$linearFill", "$expMovingAvg"})
_COLLECTING = frozenset({"$push", "$addToSet", "$firstN", "$lastN", "$maxN", "$minN", "$topN", "$bottomN"})
_WHOLE_DOCUMENT = frozenset({"$$ROOT", "$$CURRENT"})
_WINDOW_HOW = (f'give it window: {{"documents": [a, b]}} with integers or "current", at most {MAX_WINDOW_DOCUMENTS} '
               'documents (the window limit), e.g. [-2, "current"] for the last three rows of a sorted partition')


# --- regular expressions ------------------------------------------------------------------------


def check_operator(operator: str, spec: Any, where: str) -> None:
    """The checks of BOUNDED_OPERATORS; `where` is the location of `operator` itself."""
    if operator == "$regex":
        # json_util has already made {"$regex": "...", "$options": "..."} a Regex (checked as a value);
        # what is left here is a string next to other operators, or something that is not a pattern.
        if isinstance(spec, str):
            _check_pattern(spec, where)
        elif not isinstance(spec, (Regex, re.Pattern)):
            raise InvalidArgument(f"{where}: $regex takes a literal string; {_REGEX_HOW}")
    elif operator == "$options":
        _check_options(spec, where)
    elif operator in REGEX_OPERATORS:
        _check_regex_expression(operator, spec, where)


def check_regex_value(value: Regex | re.Pattern, where: str) -> None:
    """A BSON regular expression value, from Extended JSON or a driver."""
    flags = value.flags if isinstance(value.flags, int) else 0
    _check_pattern(value.pattern, where)
    if flags & ~_ALLOWED_FLAGS:
        shown = "".join(letter for letter, flag in (("i", re.I), ("m", re.M), ("s", re.S), ("x", re.X), ("l", re.L))
                        if flags & flag)
        raise InvalidArgument(f"{where}: regular expression options {shown!r} are not allowed; {_REGEX_HOW}")


def _check_regex_expression(operator: str, spec: Any, where: str) -> None:
    if not isinstance(spec, dict) or "regex" not in spec or set(spec) - {"input", "regex", "options"}:
        raise InvalidArgument(f'{where}: {operator} takes {{"input": ..., "regex": "<literal>", "options": "i"}}; '
                              f"{_REGEX_HOW}")
    regex = spec["regex"]
    if isinstance(regex, str) and regex.startswith("$"):
        raise InvalidArgument(f"{where}: {operator}.regex {echo(regex)} is a field path or variable; the pattern "
                              f"must be a literal string written in the pipeline; {_REGEX_HOW}")
    if isinstance(regex, str):
        _check_pattern(regex, where)
    elif isinstance(regex, (Regex, re.Pattern)):
        check_regex_value(regex, where)
    else:
        raise InvalidArgument(f"{where}: {operator}.regex must be a literal string, not an expression; {_REGEX_HOW}")
    if "options" in spec:
        _check_options(spec["options"], where)


def _check_pattern(pattern: object, where: str) -> None:
    problem = literal_pattern_problem(pattern)
    if problem:
        raise InvalidArgument(f"{where}: regular expression {echo(pattern)} {problem}; {_REGEX_HOW}")


def literal_pattern_problem(pattern: object) -> str | None:
    """Why `pattern` is not an escaped literal (optionally anchored), or None if it is."""
    if not isinstance(pattern, str):
        return "is not text"
    if len(pattern) > MAX_REGEX_CHARS:
        return f"is {len(pattern):,} characters long (the limit is {MAX_REGEX_CHARS})"
    end = len(pattern)
    index = 1 if pattern.startswith("^") else 0
    literals = 0
    while index < end:
        char = pattern[index]
        if char == "\\":
            escaped = pattern[index + 1:index + 2]
            if escaped not in _ESCAPABLE or not escaped:
                sequence = "\\" + escaped
                return f"has {sequence!r}: only punctuation may follow a backslash"
            index += 2
        elif char == "$" and index == end - 1:
            break  # the end anchor
        elif char in _METACHARACTERS:
            return f"has an unescaped {char!r}"
        else:
            index += 1
        literals += 1
    if not literals:
        # An empty pattern matches at every position: $regexFindAll would return one match per character.
        return "has no literal character"
    return None


def _check_options(options: object, where: str) -> None:
    if not isinstance(options, str) or set(options) - {"i"}:
        raise InvalidArgument(f"{where}: regular expression options {echo(options)} are not allowed; {_REGEX_HOW}")


# --- $range ---------------------------------------------------------------------------------------


def range_items(spec: Any, where: str) -> int:
    """How many elements a `$range` makes; refused unless its bounds are literal integers."""
    if not (isinstance(spec, list) and len(spec) in (2, 3) and all(_is_integer(v) for v in spec)):
        raise InvalidArgument(f"{where}: $range takes literal integers [start, end] or [start, end, step] "
                              f"(no expressions), at most {MAX_RANGE_ITEMS:,} elements (the $range limit)")
    start, end, step = (*spec, 1)[:3]
    if step == 0:
        raise InvalidArgument(f"{where}: $range step must not be 0")
    return max(0, -((start - end) // step))  # ceil((end - start) / step), exact for any integers


def _is_integer(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# --- stages ---------------------------------------------------------------------------------------


def check_stage(name: str, body: Any, at: At) -> None:
    """The stage-level rules; run after the generic walk, so `body` is known to be shallow enough."""
    if name == "$setWindowFields":
        _check_window_fields(body, at)
    elif name in ("$group", "$bucket", "$bucketAuto"):
        _check_accumulators(name, body, at)


def _check_window_fields(body: Any, at: At) -> None:
    output = body.get("output") if isinstance(body, dict) else None
    if not isinstance(output, dict) or not output:
        raise InvalidArgument(f"{at('$setWindowFields')}: $setWindowFields takes {{partitionBy, sortBy, output: "
                              "{field: {<operator>: <expression>, window: {documents: [a, b]}}}}")
    for field_name, spec in output.items():
        path = f"$setWindowFields.output.{field_name}"
        operators = [key for key in spec if key != "window"] if isinstance(spec, dict) else []
        if len(operators) != 1:
            raise InvalidArgument(f"{at(path)}: an output is {{<operator>: <expression>, window: ...}} with one "
                                  f"operator; {_WINDOW_HOW}")
        (operator,) = operators
        if operator in _COLLECTING:
            raise InvalidArgument(f"{at(path)}: {operator} is not allowed in $setWindowFields (every document would "
                                  "carry a copy of its window): use $sum, $avg, $min, $max or $count over a bounded "
                                  "window, or $group to collect values")
        if "window" in spec:
            _check_window(spec["window"], at(f"{path}.window"))
        elif operator not in _NO_WINDOW:
            raise InvalidArgument(f"{at(path)}: {operator} without a window reads the whole partition for every "
                                  f"document; {_WINDOW_HOW}")


def _check_window(window: Any, where: str) -> None:
    if isinstance(window, dict) and "range" in window:
        raise InvalidArgument(f"{where}: range windows are not allowed (their size depends on the data); "
                              f"{_WINDOW_HOW}")
    bounds = window.get("documents") if isinstance(window, dict) and set(window) == {"documents"} else None
    if not (isinstance(bounds, list) and len(bounds) == 2):
        raise InvalidArgument(f"{where}: a window is {{\"documents\": [a, b]}}; {_WINDOW_HOW}")
    if "unbounded" in bounds:
        raise InvalidArgument(f"{where}: unbounded windows are not allowed; {_WINDOW_HOW}")
    low, high = (0 if bound == "current" else bound for bound in bounds)
    if not (_is_integer(low) and _is_integer(high)) or low > high:
        raise InvalidArgument(f"{where}: window bounds {echo(bounds)} must be integers or \"current\", the first "
                              f"not after the second; {_WINDOW_HOW}")
    if high - low + 1 > MAX_WINDOW_DOCUMENTS or max(abs(low), abs(high)) > MAX_WINDOW_DOCUMENTS:
        raise InvalidArgument(f"{where}: window {echo(bounds)} is over the window limit of {MAX_WINDOW_DOCUMENTS} "
                              f"documents; {_WINDOW_HOW}")


def _check_accumulators(stage: str, body: Any, at: At) -> None:
    """$push/$addToSet/N-accumulators of `$$ROOT`/`$$CURRENT` in $group, $bucket, $bucketAuto."""
    fields = body if stage == "$group" else body.get("output") if isinstance(body, dict) else None
    prefix = stage if stage == "$group" else f"{stage}.output"
    if not isinstance(fields, dict):
        return
    for field_name, spec in fields.items():
        if not isinstance(spec, dict) or (stage == "$group" and field_name == "_id"):
            continue
        for accumulator, argument in spec.items():
            if accumulator in _COLLECTING and _mentions_whole_document(argument):
                raise InvalidArgument(
                    f"{at(f'{prefix}.{field_name}')}: {accumulator} of whole documents ($$ROOT, $$CURRENT) is not "
                    f"allowed: it copies every document into one value; collect only the fields you need, e.g. "
                    f'{{"{accumulator}": {{"order_id": "$order_id", "total": "$total"}}}}')


def _mentions_whole_document(value: Any) -> bool:
    if isinstance(value, str):
        return value in _WHOLE_DOCUMENT
    if isinstance(value, dict):
        return any(_mentions_whole_document(item) for item in value.values())
    if isinstance(value, list):
        return any(_mentions_whole_document(item) for item in value)
    return False
