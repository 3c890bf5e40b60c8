"""The results store of `being-h0 bench run`: one SQLite row per finished trial, written in one transaction.

A trial is keyed by (engine id, engine checksum, profile, task, variation,
strategy, seed), so a rerun of the same sweep skips what is already stored
and nothing is counted twice. ``bench/report.py`` reads the rows back.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Self

from ..config import ConfigError
from .engines import engine_label

SCHEMA = """
CREATE TABLE IF NOT EXISTS trials (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    engine_id TEXT NOT NULL,
    engine_sha256 TEXT NOT NULL,
    engine_path TEXT NOT NULL,
    profile TEXT NOT NULL,
    task TEXT NOT NULL,
    variation TEXT NOT NULL,
    trial_index INTEGER NOT NULL,
    seed INTEGER NOT NULL,
    instruction TEXT NOT NULL,
    state TEXT NOT NULL,
    success INTEGER NOT NULL,
    judge TEXT NOT NULL,
    message TEXT NOT NULL,
    sim_seconds REAL NOT NULL,
    duration_s REAL NOT NULL,
    interventions INTEGER NOT NULL,
    safety_events INTEGER NOT NULL,
    safety_json TEXT NOT NULL,
    recording TEXT NOT NULL,
    frames TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    engine_name TEXT NOT NULL DEFAULT '',
    strategy TEXT NOT NULL DEFAULT '',
    failure_phase TEXT NOT NULL DEFAULT '',
    failure_reason TEXT NOT NULL DEFAULT '',
    command TEXT NOT NULL DEFAULT '',
    events_json TEXT NOT NULL DEFAULT '[]',
    UNIQUE (engine_id, engine_sha256, profile, task, variation, strategy, seed)
);
"""


@dataclass
class TrialResult:
    engine_id: str
    engine_sha256: str
    engine_path: str
    profile: str
    task: str
    variation: str
    trial_index: int
    seed: int
    instruction: str
    state: str
    success: bool
    judge: str  # "simulator" | "operator"
    message: str
    sim_seconds: float
    duration_s: float
    interventions: int
    safety_events: int
    safety: dict[str, Any] = field(default_factory=dict)
    recording: str = ""
    frames: str = ""
    started_at: str = ""
    finished_at: str = ""
    #: the engine's name for people (its directory's name) and the chunk execution strategy it ran with
    engine_name: str = ""
    strategy: str = ""
    #: for a trial that did not succeed: where it was (approach, grasp, carry, ...) and why, in words
    failure_phase: str = ""
    failure_reason: str = ""
    #: the command that runs this one trial again
    command: str = ""
    #: task milestones seen during the trial: (sim seconds since start, what)
    events: list[tuple[float, str]] = field(default_factory=list)

    def key(self) -> tuple[str, str, str, str, str, str, int]:
        return (self.engine_id, self.engine_sha256, self.profile, self.task, self.variation, self.strategy, self.seed)


class ResultsDB:
    """SQLite results: one row per finished trial, written in one transaction."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.conn = sqlite3.connect(str(self.path), timeout=30.0, isolation_level=None)
            self.conn.row_factory = sqlite3.Row
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=FULL")  # a finished trial survives a power cut
            self._migrate_v1()
            self.conn.executescript(SCHEMA)
        except sqlite3.DatabaseError as err:
            raise ConfigError(f"{self.path}: not a usable results database ({err})") from None

    def _migrate_v1(self) -> None:
        """Results written before strategies and failure reasons: rebuild the table (the key gains the strategy)."""
        cols = [r[1] for r in self.conn.execute("PRAGMA table_info(trials)").fetchall()]
        if not cols or "strategy" in cols:
            return
        keep = ", ".join(cols)
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            self.conn.execute("ALTER TABLE trials RENAME TO trials_v1")
            for stmt in SCHEMA.replace("CREATE TABLE IF NOT EXISTS", "CREATE TABLE").split(";"):
                if stmt.strip():
                    self.conn.execute(stmt)
            self.conn.execute(f"INSERT INTO trials ({keep}) SELECT {keep} FROM trials_v1")
            self.conn.execute("DROP TABLE trials_v1")
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def has(self, key: tuple[str, str, str, str, str, str, int]) -> bool:
        row = self.conn.execute(
            "SELECT 1 FROM trials WHERE engine_id=? AND engine_sha256=? AND profile=? AND task=? AND variation=? "
            "AND strategy=? AND seed=?", key).fetchone()
        return row is not None

    def record(self, r: TrialResult) -> bool:
        """Insert one trial atomically; False (nothing written) if that key is already there."""
        d = asdict(r)
        d["success"] = int(r.success)
        d["safety_json"] = json.dumps(d.pop("safety"), sort_keys=True)
        d["events_json"] = json.dumps(d.pop("events"))
        cols = ", ".join(d)
        marks = ", ".join("?" for _ in d)
        with self.conn:  # BEGIN ... COMMIT (rollback on error)
            self.conn.execute("BEGIN IMMEDIATE")
            cur = self.conn.execute(f"INSERT OR IGNORE INTO trials ({cols}) VALUES ({marks})", list(d.values()))
        return cur.rowcount == 1

    def rows(self) -> list[dict[str, Any]]:
        cur = self.conn.execute("SELECT * FROM trials ORDER BY engine_id, strategy, task, variation, seed")
        out = []
        for row in cur.fetchall():
            d = dict(row)
            d["success"] = bool(d["success"])
            d["safety"] = json.loads(d.pop("safety_json") or "{}")
            d["events"] = [tuple(e) for e in json.loads(d.pop("events_json") or "[]")]
            out.append(d)
        return out


def load_results(path: str | Path) -> list[dict[str, Any]]:
    p = Path(path)
    if not p.exists():
        raise ConfigError(f"{p}: results file not found (run `being-h0 bench run --results {p}` first)")
    with ResultsDB(p) as db:
        return db.rows()


def row_engine_label(r: dict[str, Any]) -> str:
    """A result row's engine as people name it: directory name + 8 hex of the manifest checksum."""
    return engine_label(r.get("engine_name") or r["engine_id"], r["engine_sha256"])


def iter_cells(rows: list[dict[str, Any]]) -> Iterator[tuple[tuple[str, str, str, str, str], list[dict[str, Any]]]]:
    """Group result rows by (engine label, strategy, profile, task, variation)."""
    groups: dict[tuple[str, str, str, str, str], list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault((row_engine_label(r), r.get("strategy") or "", r["profile"], r["task"], r["variation"]),
                          []).append(r)
    yield from groups.items()
