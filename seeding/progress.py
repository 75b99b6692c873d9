"""Progress for long work: a bar per collection with counts, rate and ETA (on stderr)."""

from __future__ import annotations

import sys
import time
from contextlib import AbstractContextManager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


class Reporter(AbstractContextManager):
    """Progress bars and one-line notes; `quiet` keeps only warnings and the final summary."""

    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet
        self.console = Console(stderr=True, highlight=False)
        self._progress = Progress(
            TextColumn("{task.description:<20}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[rate]:>10}"), TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(),
            console=self.console, disable=quiet or not sys.stderr.isatty(), transient=False,
        )
        self._started: dict[TaskID, float] = {}

    def __enter__(self) -> Reporter:
        self._progress.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._progress.__exit__(*exc)

    def start(self, name: str, total: int) -> TaskID:
        task = self._progress.add_task(name, total=total, rate="")
        self._started[task] = time.perf_counter()
        return task

    def advance(self, task: TaskID, count: int) -> None:
        self._progress.advance(task, count)
        done = self._progress.tasks[task].completed
        elapsed = max(time.perf_counter() - self._started[task], 1e-6)
        self._progress.update(task, rate=f"{done / elapsed:,.0f}/s")

    def finish(self, task: TaskID, name: str, count: int) -> float:
        elapsed = time.perf_counter() - self._started[task]
        self._progress.update(task, completed=count, total=max(count, 1))
        if not self._progress.disable:
            return elapsed
        self.note(f"{name:<20} {count:>9,} docs  {elapsed:6.1f} s  {count / max(elapsed, 1e-6):>9,.0f}/s")
        return elapsed

    def note(self, message: str) -> None:
        if not self.quiet:  # one line, however narrow the terminal (or 80 columns when there is none)
            self.console.print(message, soft_wrap=True, markup=False)
