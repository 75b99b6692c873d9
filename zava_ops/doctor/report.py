"""The doctor's steps, in order, and the report that prints each as it is made."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

T = TypeVar("T")

DEFAULT_TIMEOUT_S = 3.0
# Pre/post images (what Ditto's connector reads) arrived in MongoDB 6.0; transactions need 4.0.
MIN_SERVER_VERSION = (6, 0)
IP_ACCESS_LIST_FIX = ("Atlas: Security > Network Access > Add IP Address (your current address, or your VPN's egress "
                      "address); elsewhere, open outbound TCP to the port in the firewall/VPN")
# The steps in order: a step that cannot run because an earlier one failed is reported as skipped.
STEPS = ("configuration", "connection string", "DNS", "TCP", "TLS", "authentication", "roles", "server version",
         "replica set", "dataset", "indexes", "pre/post images", "change feed", "search indexes", "embeddings")



# --- reporting -----------------------------------------------------------------------------------

@dataclass
class Step:
    name: str
    status: str  # ok | warn | FAIL | skip | n/a
    detail: str
    cause: str | None = None
    fix: str | None = None


@dataclass
class Report:
    out: Callable[[str], None] = print
    steps: list[Step] = field(default_factory=list)

    def add(self, name: str, status: str, detail: str, *, cause: str | None = None, fix: str | None = None) -> Step:
        step = Step(name, status, detail, cause, fix)
        self.steps.append(step)
        # Print as we go: a slow step should not hide the ones already done.
        self.out(f"{status:<5} {name:<18} {detail}")
        if cause:
            self.out(f"{'':<24}cause: {cause}")
        if fix:
            self.out(f"{'':<24}fix:   {fix}")
        return step

    def ok(self, name: str, detail: str) -> Step:
        return self.add(name, "ok", detail)

    def fail(self, name: str, detail: str, cause: str | None = None, fix: str | None = None) -> Step:
        return self.add(name, "FAIL", detail, cause=cause, fix=fix)

    def skip_remaining(self, reason: str) -> None:
        done = {step.name for step in self.steps}
        for name in STEPS:
            if name not in done and name != "embeddings":  # embeddings do not need the database
                self.add(name, "skip", reason)

    @property
    def failed(self) -> list[Step]:
        return [step for step in self.steps if step.status == "FAIL"]
