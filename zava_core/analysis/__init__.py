"""Sales analysis: the rollup and its in-memory cube, the typed analysis tools, and the guarded aggregation."""
