"""One doctor check's outcome: pass / warn / fail, what was seen, and how to fix it."""

from __future__ import annotations

from dataclasses import dataclass

PASS, WARN, FAIL = "pass", "warn", "fail"


@dataclass
class CheckResult:
    name: str
    status: str  # pass | warn | fail
    detail: str
    fix: str = ""
