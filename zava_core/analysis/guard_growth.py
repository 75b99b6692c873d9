"""Values a pipeline makes grow out of proportion to the data, seen before it runs: pure functions, no I/O.

The engine has no value size limit: `$set: {s: {$concat: ["$s", "$s"]}}` repeated 25 times turned a product
name into a 1 GB string, raising the engine from 268 MB to 1.8 GB for ~6 s while another caller's read waited
1.2 s. The guard follows every value through the pipeline and counts how many copies of one piece of stored
data it can hold (`Copies`: per source, a field of the documents read, the whole document `*`, or a joined
collection), and refuses:

- a value holding more than MAX_VALUE_COPIES copies of one source: a doubling `$concat`, `$concatArrays`,
  an object or array listing the same field twice, however they are spread over stages, `$let` variables or
  fields copied from one another;
- `$reduce` whose `in` uses `$$value` more than once where it is kept (it doubles per element: 2^n);
- `$map` or `$reduce` that copies anything but their own element (and `$$value`) into each element: the copy
  is repeated once per element, and the number of elements is not known before it runs;
- `$replaceAll` with a replacement that is not literal text (copied once per match);
- a `$lookup` sub-pipeline that copies its `let` variables into the documents it joins.

A sum of copies is what `$concat`-like operators, objects and arrays make; a choice (`$cond`, `$ifNull`,
`$min`, `$arrayElemAt`, ...) holds at most its largest branch; predicates, arithmetic, sizes and dates hold
none. It is an upper bound: `{$concat: ["$first_name", " ", "$last_name"]}` counts one copy of each field.
What it cannot see stays in SECURITY.md's gaps: a `$lookup` joining a whole collection to every document,
`$group`/`$push` holding a collection, work (not size) such as `$sort`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import count
from typing import Any

from zava_core.errors import InvalidArgument
from zava_core.limits import MAX_VALUE_COPIES

Copies = Counter  # source -> how many copies of it a value may hold
WHOLE = "*"  # the whole document read (contains every field)
At = Callable[[str], str]  # formats a path inside the current stage for a message

_SCALAR = frozenset({
    # arithmetic, comparison, boolean, sizes, types, dates and numbers: a bounded value whatever the input
    "$abs", "$add", "$ceil", "$divide", "$exp", "$floor", "$ln", "$log", "$log10", "$mod", "$multiply", "$pow",
    "$round", "$sqrt", "$subtract", "$trunc", "$sum", "$avg", "$stdDevPop", "$stdDevSamp", "$median",
    "$percentile", "$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$cmp", "$strcasecmp", "$and", "$or", "$not",
    "$in", "$size", "$strLenCP", "$strLenBytes", "$indexOfCP", "$indexOfBytes", "$indexOfArray", "$type",
    "$isNumber", "$isArray", "$toInt", "$toLong", "$toDouble", "$toDecimal", "$toBool", "$toDate",
    "$toObjectId", "$convert", "$dateFromString", "$dateFromParts", "$dateToParts", "$dateToString",
    "$dateAdd", "$dateSubtract", "$dateDiff", "$dateTrunc", "$year", "$month", "$week", "$dayOfYear",
    "$dayOfMonth", "$dayOfWeek", "$hour", "$minute", "$second", "$millisecond", "$isoWeek", "$isoWeekYear",
    "$isoDayOfWeek", "$regexMatch", "$setEquals", "$setIsSubset", "$anyElementTrue", "$allElementsTrue",
    "$range", "$rand", "$binarySize", "$bsonSize", "$count", "$literal", "$sin", "$cos", "$tan", "$asin",
    "$acos", "$atan", "$atan2", "$degreesToRadians", "$radiansToDegrees", "$bitAnd", "$bitOr", "$bitXor",
    "$bitNot", "$tsSecond", "$tsIncrement", "$meta", "$denseRank", "$rank", "$documentNumber", "$covariancePop",
    "$covarianceSamp", "$derivative", "$integral", "$expMovingAvg",
})
# At most the largest of their arguments (one branch, one element, a part of a string or array).
_CHOICE = frozenset({
    "$cond", "$ifNull", "$switch", "$min", "$max", "$first", "$last", "$arrayElemAt", "$getField", "$slice",
    "$reverseArray", "$sortArray", "$filter", "$firstN", "$lastN", "$maxN", "$minN", "$setDifference",
    "$setIntersection", "$substr", "$substrCP", "$substrBytes", "$toLower", "$toUpper", "$trim", "$ltrim",
    "$rtrim", "$split", "$toString", "$regexFind", "$regexFindAll", "$top", "$bottom", "$topN", "$bottomN",
    "$shift", "$locf", "$linearFill", "$objectToArray", "$arrayToObject", "$unsetField",
})
# Everything else adds its arguments up ($concat, $concatArrays, $mergeObjects, $setUnion, $zip, $setField,
# $replaceOne, objects and arrays, and any operator not listed here).
_ACCUMULATOR_COPIES = frozenset({"$first", "$last", "$max", "$min", "$push", "$addToSet", "$mergeObjects", "$top",
                                 "$bottom", "$topN", "$bottomN", "$firstN", "$lastN", "$maxN", "$minN", "$shift",
                                 "$locf"})


def amplification(copies: Copies) -> int:
    """How many copies of one piece of stored data `copies` may hold (the whole document overlaps each field)."""
    whole = copies.get(WHOLE, 0)
    parts = [n for source, n in copies.items() if source != WHOLE and not source.startswith("@")]
    return whole + max(parts, default=0)


@dataclass
class State:
    """The documents flowing between two stages: what each known top-level field holds, and what any other
    field may hold (None: the documents as read, where each field is its own source)."""

    fields: dict[str, Copies] = field(default_factory=dict)
    rest: Copies | None = None

    def field(self, name: str) -> Copies:
        if name in self.fields:
            return self.fields[name]
        return Copies({name: 1}) if self.rest is None else Copies(self.rest)

    def root(self) -> Copies:
        total = Copies({WHOLE: 1}) if self.rest is None else Copies(self.rest)
        for copies in self.fields.values():
            total.update(copies)
        return total

    def copy(self) -> State:
        return State({k: Copies(v) for k, v in self.fields.items()}, None if self.rest is None else Copies(self.rest))


class Growth:
    """Follows values through one pipeline (and its sub-pipelines), refusing what grows (module docstring)."""

    def __init__(self) -> None:
        self._symbols = count()

    # --- stages ----------------------------------------------------------------------------------

    def stage(self, name: str, body: Any, state: State, at: At, env: dict[str, Copies] | None = None) -> State:
        """The state after the stage `name` ($lookup, $unionWith and $facet are walked by `_walk`); raises
        InvalidArgument for growth."""
        env = env or {}
        value = lambda expr, path: self.value(expr, state, env, lambda p: at(f"{path}{p}"))  # noqa: E731
        if name in ("$set", "$addFields") and isinstance(body, dict):
            after = state.copy()
            for key, expr in body.items():
                top = str(key).split(".", 1)[0]
                copies = value(expr, f"{name}.{key}")
                after.fields[top] = copies + (state.field(top) if "." in str(key) else Copies())
            return self._checked(after, at(name))
        if name == "$project" and isinstance(body, dict):
            return self._checked(self._project(body, state, env, at), at(name))
        if name == "$unset":
            after = state.copy()
            for key in [body] if isinstance(body, str) else body if isinstance(body, list) else []:
                after.fields.pop(str(key).split(".", 1)[0], None)
            return after
        if name in ("$replaceRoot", "$replaceWith"):
            expr = body.get("newRoot") if name == "$replaceRoot" and isinstance(body, dict) else body
            return self._checked(State(rest=value(expr, name)), at(name))
        if name in ("$group", "$bucket", "$bucketAuto") and isinstance(body, dict):
            return self._checked(self._grouped(name, body, state, env, at), at(name))
        if name == "$sortByCount":
            return State({"_id": value(body, name), "count": Copies()}, rest=Copies())
        if name == "$count":
            return State({str(body): Copies()}, rest=Copies())
        if name == "$setWindowFields" and isinstance(body, dict) and isinstance(body.get("output"), dict):
            value(body.get("partitionBy"), "$setWindowFields.partitionBy")
            after = state.copy()
            for key, spec in body["output"].items():
                operator = next((k for k in spec if k != "window"), None) if isinstance(spec, dict) else None
                copies = value(spec[operator], f"$setWindowFields.output.{key}.{operator}") \
                    if operator in _ACCUMULATOR_COPIES else Copies()
                after.fields[str(key).split(".", 1)[0]] = copies
            return self._checked(after, at(name))
        if name == "$match" and isinstance(body, dict) and "$expr" in body:  # a predicate, built all the same
            value(body["$expr"], "$match.$expr")
        return state  # $match, $sort, $limit, $skip, $unwind: no value grows

    def lookup_field(self, name: str, sub_result: State | None, state: State, at: At) -> State:
        """The state after a $lookup into `name` whose sub-pipeline (if any) ended in `sub_result`."""
        if sub_result is not None and any(source.startswith("@let") for source in sub_result.root()):
            raise InvalidArgument(f"{at('$lookup.pipeline')}: the sub-pipeline copies its let variables into every "
                                  "joined document (the copies grow with the number joined): use the variables in "
                                  "$match only, and $set the outer fields after the $lookup")
        after = state.copy()
        after.fields[name.split(".", 1)[0]] = Copies({f"lookup:{name}#{next(self._symbols)}": 1})
        return after

    def let_symbols(self, names: list[str]) -> dict[str, Copies]:
        """Stand-ins for a $lookup's let variables inside its sub-pipeline (so copying them can be seen)."""
        return {variable: Copies({f"@let{next(self._symbols)}": 1}) for variable in names}

    def facet(self, outputs: dict[str, State]) -> State:
        return State({name: result.root() for name, result in outputs.items()}, rest=Copies())

    def _project(self, body: dict, state: State, env: dict[str, Copies], at: At) -> State:
        def flag(spec: Any) -> bool:  # 1, 0, true, false: include or exclude, not an expression
            return isinstance(spec, (bool, int, float))

        exclusion = all(flag(spec) and not spec for key, spec in body.items() if key != "_id") and \
            any(key != "_id" for key in body)
        after = state.copy()
        if exclusion:
            for key in body:
                after.fields.pop(str(key).split(".", 1)[0], None)
            return after
        kept = State(rest=Copies())
        if not (flag(body.get("_id", 1)) and not body.get("_id", 1)):
            kept.fields["_id"] = state.field("_id")
        for key, spec in body.items():
            top = str(key).split(".", 1)[0]
            if key == "_id" and flag(spec):
                continue
            if flag(spec):
                copies = state.field(top) if spec else Copies()
            elif isinstance(spec, dict) and spec and not any(str(k).startswith("$") for k in spec):
                copies = self._nested_projection(spec, top, state, env, at)
            else:
                copies = self.value(spec, state, env, lambda p, k=key: at(f"$project.{k}{p}"))
            kept.fields[top] = kept.fields.get(top, Copies()) + copies
        return kept

    def _nested_projection(self, spec: dict, top: str, state: State, env: dict[str, Copies], at: At) -> Copies:
        total = Copies()
        for key, inner in spec.items():
            if isinstance(inner, (bool, int, float)):
                total.update(state.field(top) if inner else Copies())
            elif isinstance(inner, dict) and inner and not any(str(k).startswith("$") for k in inner):
                total.update(self._nested_projection(inner, top, state, env, at))
            else:
                total.update(self.value(inner, state, env, lambda p, k=key: at(f"$project.{top}.{k}{p}")))
        return total

    def _grouped(self, name: str, body: dict, state: State, env: dict[str, Copies], at: At) -> State:
        key = "_id" if name == "$group" else "groupBy"
        after = State({"_id": self.value(body.get(key), state, env, lambda p: at(f"{name}.{key}{p}"))},
                      rest=Copies())
        fields = body if name == "$group" else body.get("output") or {}
        for output, spec in fields.items() if isinstance(fields, dict) else ():
            if output == "_id" or not isinstance(spec, dict):
                continue
            copies = Copies()
            for accumulator, argument in spec.items():
                if accumulator in _ACCUMULATOR_COPIES:
                    copies.update(self.value(argument, state, env, lambda p, o=output: at(f"{name}.{o}{p}")))
            after.fields[str(output)] = copies
        return after

    def _checked(self, state: State, where: str) -> State:
        for name, copies in state.fields.items():
            if amplification(copies) > MAX_VALUE_COPIES:
                raise _too_many(f"{where} (field {name})", copies)
        return state

    # --- expressions -----------------------------------------------------------------------------

    def value(self, expr: Any, state: State, env: dict[str, Copies], at: At) -> Copies:
        """What `expr` may hold: copies per source (symbols `@...` for variables not yet known)."""
        if isinstance(expr, str):
            return self._reference(expr, state, env)
        if isinstance(expr, list):
            return self._sum([self.value(item, state, env, lambda p, i=i: at(f"[{i}]{p}"))
                              for i, item in enumerate(expr)], at)
        if not isinstance(expr, dict):
            return Copies()
        if len(expr) == 1 and str(next(iter(expr))).startswith("$"):
            ((operator, argument),) = expr.items()
            return self._operator(str(operator), argument, state, env, lambda p: at(f".{operator}{p}"))
        return self._sum([self.value(item, state, env, lambda p, k=k: at(f".{k}{p}")) for k, item in expr.items()],
                         at)

    def _reference(self, text: str, state: State, env: dict[str, Copies]) -> Copies:
        if text.startswith("$$"):
            name = text[2:].split(".", 1)[0]
            if name in ("ROOT", "CURRENT"):
                return state.root()
            return Copies(env.get(name, Copies()))
        if text.startswith("$"):
            return Copies(state.field(text[1:].split(".", 1)[0]))
        return Copies()

    def _operator(self, operator: str, argument: Any, state: State, env: dict[str, Copies], at: At) -> Copies:
        if operator == "$literal":
            return Copies()
        if operator in _SCALAR:
            # The result is small, but the engine still builds the arguments: `{$strLenCP: {$reduce: ...}}`.
            for part in _parts(argument):
                self.value(part, state, env, at)
            return Copies()
        if operator == "$map" and isinstance(argument, dict):
            return self._map(argument, state, env, at)
        if operator == "$reduce" and isinstance(argument, dict):
            return self._reduce(argument, state, env, at)
        if operator == "$let" and isinstance(argument, dict):
            variables = argument.get("vars") if isinstance(argument.get("vars"), dict) else {}
            inner = {**env, **{str(k): self.value(v, state, env, lambda p, k=k: at(f".vars.{k}{p}"))
                               for k, v in variables.items()}}
            return self.value(argument.get("in"), state, inner, lambda p: at(f".in{p}"))
        if operator == "$replaceAll" and isinstance(argument, dict):
            replacement = self.value(argument.get("replacement"), state, env, at)
            if replacement:
                raise InvalidArgument(f"{at('.replacement')}: $replaceAll's replacement must be literal text (a "
                                      "field or expression is copied once per match, so the result grows with "
                                      "the product of two lengths)")
            return self.value(argument.get("input"), state, env, lambda p: at(f".input{p}"))
        values = [self.value(part, state, env, at) for part in _parts(argument)]
        if operator in _CHOICE:
            return _largest(values)
        return self._sum(values, at)

    def _map(self, spec: dict, state: State, env: dict[str, Copies], at: At) -> Copies:
        element = self._symbol()
        variable = str(spec.get("as", "this"))
        source = self.value(spec.get("input"), state, env, lambda p: at(f".input{p}"))
        each = self.value(spec.get("in"), state, {**env, variable: Copies({element: 1})}, lambda p: at(f".in{p}"))
        outer = _without(each, element)
        if outer:
            raise _per_element(at(".in"), "$map", outer)
        return self._bounded(_substitute(each, element, source), at)

    def _reduce(self, spec: dict, state: State, env: dict[str, Copies], at: At) -> Copies:
        element, accumulated = self._symbol(), self._symbol()
        source = self.value(spec.get("input"), state, env, lambda p: at(f".input{p}"))
        initial = self.value(spec.get("initialValue"), state, env, lambda p: at(f".initialValue{p}"))
        each = self.value(spec.get("in"), state, {**env, "this": Copies({element: 1}),
                                                  "value": Copies({accumulated: 1})}, lambda p: at(f".in{p}"))
        if each.get(accumulated, 0) > 1:
            raise InvalidArgument(f"{at('.in')}: $reduce keeps $$value {each[accumulated]} times in its `in`, so the "
                                  "value doubles with every element (2^n for n elements): keep $$value once, e.g. "
                                  '{"$concat": ["$$value", "$$this"]}')
        outer = _without(_without(each, element), accumulated)
        if outer:
            raise _per_element(at(".in"), "$reduce", outer)
        return self._bounded(_substitute(_substitute(each, element, source), accumulated, initial), at)

    def _symbol(self) -> str:
        return f"@{next(self._symbols)}"

    def _sum(self, values: list[Copies], at: At) -> Copies:
        total = Copies()
        for copies in values:
            total.update(copies)
        return self._bounded(total, at)

    @staticmethod
    def _bounded(copies: Copies, at: At) -> Copies:
        if amplification(copies) > MAX_VALUE_COPIES:
            raise _too_many(at(""), copies)
        return copies


def _parts(argument: Any) -> list[Any]:
    """An operator's arguments: the values of its named arguments, the items of its list, or the one value
    (an expression such as `{"$reduce": ...}` is one value, not named arguments)."""
    if isinstance(argument, dict) and not (len(argument) == 1 and str(next(iter(argument))).startswith("$")):
        return list(argument.values())
    return argument if isinstance(argument, list) else [argument]


def _largest(values: list[Copies]) -> Copies:
    largest = Copies()
    for copies in values:
        largest |= copies  # elementwise maximum
    return largest


def _without(copies: Copies, symbol: str) -> Copies:
    return Copies({source: n for source, n in copies.items() if source != symbol})


def _substitute(copies: Copies, symbol: str, replacement: Copies) -> Copies:
    times = copies.get(symbol, 0)
    result = _without(copies, symbol)
    for source, n in replacement.items():
        result[source] += n * times
    return result


def _named(copies: Copies) -> str:
    sources = [s for s, _ in copies.most_common() if not s.startswith("@")]
    shown = ["the whole document ($$ROOT)" if s == WHOLE else f"the {s.split('#')[0]} array"
             if s.startswith("lookup:") else f"${s}" for s in sources[:3]]
    return ", ".join(shown) or "a variable"


def _too_many(where: str, copies: Copies) -> InvalidArgument:
    return InvalidArgument(
        f"{where}: this value holds up to {amplification(copies):,} copies of {_named(copies)} (the limit is "
        f"{MAX_VALUE_COPIES}): values that copy themselves ($concat or $concatArrays of a field with itself, over "
        "several stages) grow to gigabytes in the shared engine. Use each field once per value")


def _per_element(where: str, operator: str, outer: Copies) -> InvalidArgument:
    return InvalidArgument(
        f"{where}: {operator} copies {_named(outer)} into every element, so the result grows with the length of the "
        f"array: use only the element (and $$value) inside {operator}, and add other fields outside it (after "
        "$unwind, or with $set)")


# --- the walk over a pipeline ------------------------------------------------------------------------

Location = tuple[tuple[int, str], ...]  # as in `guard`: (stage number, path inside it) per pipeline level


def check_growth(pipeline: list[dict], where: Callable[[Location], str]) -> None:
    """Raise InvalidArgument (naming the stage) if a value of `pipeline` can grow out of proportion to the data.
    Expects a pipeline that passed the guard's other checks; `where` formats a location as the guard does."""
    _walk(pipeline, (), State(), {}, Growth(), where)


def _walk(stages: list, outer: Location, state: State, env: dict[str, Copies], growth: Growth,
          where: Callable[[Location], str]) -> State:
    for number, stage in enumerate(stages, 1):
        loc = (*outer, (number, ""))
        ((name, body),) = stage.items()

        def at(path: str, loc: Location = loc) -> str:
            return where((*loc[:-1], (loc[-1][0], path)))

        if name == "$lookup":
            lets = list(body.get("let") or {})
            sub = None
            if "pipeline" in body:
                sub = _walk(body["pipeline"], (*loc[:-1], (number, "$lookup.pipeline")), State(),
                            growth.let_symbols(lets), growth, where)
            state = growth.lookup_field(str(body.get("as", "")), sub, state, at)
        elif name == "$unionWith":
            if isinstance(body, dict) and "pipeline" in body:
                _walk(body["pipeline"], (*loc[:-1], (number, "$unionWith.pipeline")), State(), {}, growth, where)
        elif name == "$facet":
            state = growth.facet({facet: _walk(inner, (*loc[:-1], (number, f"$facet.{facet}")), state.copy(), env,
                                               growth, where) for facet, inner in body.items()})
        else:
            state = growth.stage(name, body, state, at, env)
    return state
