"""The limits `aggregation_guard` puts on the shape of a caller's pipeline, defined once with their reasons.

The run-time limits (time, rows, bytes, how many pipelines at once) are in `aggregation`. These bound
what a pipeline can ask the engine to do before it runs, because the embedded engine does not stop
every kind of work at `maxTimeMS`: a runaway regular expression or window function keeps it busy for
every caller long after the caller was answered.
"""

from __future__ import annotations

# --- size of the pipeline -----------------------------------------------------------------------

MAX_STAGES = 50  # every stage, nested ones included
MAX_PIPELINE_DEPTH = 8  # the pipeline is level 1; each $facet/$lookup/$unionWith sub-pipeline one more
MAX_VALUE_DEPTH = 100  # objects and arrays within a stage (keeps the walk far from Python's recursion limit)
MAX_PIPELINE_BYTES = 50_000
MAX_PATH_CHARS = 80  # of a path inside a stage, in messages

# --- work that multiplies ---------------------------------------------------------------------

# `$unwind` stages in the whole pipeline, nested ones included. Each one multiplies the rows by an
# array's length; two cover every question of this dataset ($lookup then $unwind, and $objectToArray
# of a map then $unwind) while a third level is where row counts explode.
MAX_UNWINDS = 2

# Elements of `$range` arrays. Every `$range` must have literal integer bounds, and the sizes of all of
# them in one pipeline multiply to at most this (as if nested: `$map` over a `$range` whose `in` is
# another `$range` makes their product per document). A thousand is ample for a calendar of days or a
# list of months, and keeps a per-document array small.
MAX_RANGE_ITEMS = 1_000

# Documents in a `$setWindowFields` window: `documents: [a, b]` with integer bounds (or "current")
# within this many of the current document and covering at most this many. The engine computes each
# window afresh, so the work is (documents read) x (window size): bounded windows keep that linear.
MAX_WINDOW_DOCUMENTS = 100

# --- regular expressions ------------------------------------------------------------------------

# Characters of a `$regex`/`$regexMatch` pattern. Patterns are escaped literals only (see
# `aggregation_bounds`); the cap keeps each match cheap and a message quoting one short.
MAX_REGEX_CHARS = 100
