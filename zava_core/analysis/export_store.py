"""The exports one process holds: each an `ExportFile` (a CSV, whose scope made it, when it expires), kept in
memory by `Exports` and read back by id. What goes into an export: `export.py`; the rules: `limits.py`.

Reading is scoped: only a caller with the same scope as the one that made an export can read it; anyone else
is told that no such export exists, as for an id never issued. An expired export says when it expired.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime

from zava_core import limits as L
from zava_core.errors import NotFound
from zava_core.infra.timeutil import iso
from zava_core.scope import Scope

EXPIRED = "export {id} expired at {at}: make it again (exports last {minutes} minutes)"
UNKNOWN = ("no export {id} for you: exports are read with the link their tool returned, by who made them, for "
           "{minutes} minutes")


@dataclass(frozen=True)
class ExportFile:
    export_id: str
    name: str
    owner: tuple[str, ...]  # the scope it was made with
    text: str
    rows: int
    columns: list[str]
    size: int  # bytes of the CSV (UTF-8)
    created_at: float
    expires_at: float


def scope_key(scope: Scope) -> tuple[str, ...]:
    return ("head-office",) if scope.head_office else tuple(sorted(scope.store_ids))


class Exports:
    """The exports one process holds (in memory): added by the export tools, read through their links."""

    def __init__(self) -> None:
        self._files: OrderedDict[str, ExportFile] = OrderedDict()  # oldest first
        self._expired: dict[str, float] = {}  # id -> when it expired, so a late read says so

    def add(self, export: ExportFile) -> None:
        self._purge()
        self._files[export.export_id] = export
        held = sum(f.size for f in self._files.values())
        while held > L.EXPORTS_HELD_MAX_BYTES and len(self._files) > 1:
            _, oldest = self._files.popitem(last=False)
            held -= oldest.size
            self._expired[oldest.export_id] = time.time()

    def read(self, export_id: str, scope: Scope) -> ExportFile:
        self._purge()
        minutes = L.EXPORT_TTL_SECONDS // 60
        export = self._files.get(export_id)
        if export is not None and export.owner == scope_key(scope):
            return export
        if export is None and export_id in self._expired:
            raise NotFound(EXPIRED.format(id=export_id, at=iso(datetime.fromtimestamp(self._expired[export_id], UTC)),
                                          minutes=minutes))
        raise NotFound(UNKNOWN.format(id=export_id, minutes=minutes))

    def _purge(self) -> None:
        now = time.time()
        for export_id in [i for i, f in self._files.items() if f.expires_at <= now]:
            self._expired[export_id] = self._files.pop(export_id).expires_at
        # Remember expiries for a day at most: enough to tell a late reader, never a growing list.
        for export_id in [i for i, at in self._expired.items() if at < now - 86_400]:
            del self._expired[export_id]
