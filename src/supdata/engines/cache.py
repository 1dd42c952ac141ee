"""The request cache: one row per generated sample, content-addressed.

A sample's key hashes the engine fingerprint (model id plus weights revision or hash),
the prompt, the sampling params that shape text, and the sample's own seed. So a build
that dies re-runs without generating a finished sample twice, and n can grow without
regenerating the samples already made. sqlite in WAL mode lets two builds share it.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from supdata.engines.types import Request


def default_cache_path() -> Path:
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return Path(os.environ.get("SUPDATA_CACHE", root / "supdata" / "requests.sqlite"))


@dataclass(frozen=True, slots=True)
class CachedSample:
    text: str
    finish_reason: str | None
    prompt_tokens: int
    output_tokens: int


def sample_key(fingerprint: str, request: Request, seed: int) -> str:
    payload = json.dumps(
        {
            "engine": fingerprint,
            "prompt": request.prompt_key(),
            "sampling": request.sampling.key_fields(),
            "seed": seed,
        },
        ensure_ascii=False,
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(payload.encode()).hexdigest()


class CacheError(RuntimeError):
    """A request cache that cannot be opened or written; the message names the file."""


class RequestCache:
    """sqlite-backed sample store; safe across threads and processes."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else default_cache_path()
        if self.path.is_dir():
            raise CacheError(f"request cache {self.path}: is a folder, not a cache file")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, timeout=60, check_same_thread=False)
        try:
            self._set_up()
        except sqlite3.OperationalError as exc:
            self._db.close()
            raise CacheError(
                f"request cache {self.path}: cannot be opened ({exc}); another process may "
                "hold it locked, or the file is not a supdata request cache"
            ) from None
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise CacheError(
                f"request cache {self.path}: not a supdata request cache ({exc}); "
                "point --cache at another file or move this one away"
            ) from None
        except CacheError:
            self._db.close()
            raise
        self.hits = 0
        self.misses = 0
        self.writes = 0

    def _set_up(self) -> None:
        """Check the file, switch it to WAL, create the table.

        Two processes opening a new cache at once can get "database is locked" from the
        journal-mode switch without sqlite's busy handler being asked, so a locked set-up
        is retried for up to a minute instead of being taken for a foreign file.
        """
        deadline = time.monotonic() + 60
        while True:
            try:
                self._set_up_once()
                return
            except sqlite3.OperationalError as exc:
                locked = "locked" in str(exc) or "busy" in str(exc)
                if not locked or time.monotonic() > deadline:
                    raise
                self._db.rollback()
                time.sleep(0.05)

    def _set_up_once(self) -> None:
        tables = {
            name
            for (name,) in self._db.execute(
                "SELECT name FROM sqlite_master WHERE type='table'"
            ).fetchall()
        }
        if tables and "samples" not in tables:
            raise CacheError(
                f"request cache {self.path}: a sqlite database of something else "
                f"(tables: {sorted(tables)}), not a supdata request cache; left as it is"
            )
        if self._db.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
            self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=60000")
        self._db.execute(
            """CREATE TABLE IF NOT EXISTS samples (
                key TEXT PRIMARY KEY,
                engine TEXT NOT NULL,
                text TEXT NOT NULL,
                finish_reason TEXT,
                prompt_tokens INTEGER NOT NULL,
                output_tokens INTEGER NOT NULL,
                created REAL NOT NULL
            )"""
        )
        self._db.commit()

    def get_many(self, keys: list[str]) -> dict[str, CachedSample]:
        found: dict[str, CachedSample] = {}
        with self._lock:
            for start in range(0, len(keys), 500):
                chunk = keys[start : start + 500]
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(
                    "SELECT key, text, finish_reason, prompt_tokens, output_tokens "
                    f"FROM samples WHERE key IN ({marks})",
                    chunk,
                ).fetchall()
                for key, *rest in rows:
                    found[key] = CachedSample(*rest)
        self.hits += len(found)
        self.misses += len(keys) - len(found)
        return found

    def put_many(self, engine: str, samples: dict[str, CachedSample]) -> None:
        """Store finished samples at once (one transaction): a kill loses nothing stored."""
        now = time.time()
        rows = [
            (k, engine, s.text, s.finish_reason, s.prompt_tokens, s.output_tokens, now)
            for k, s in samples.items()
        ]
        with self._lock:
            try:
                self._db.executemany("INSERT OR IGNORE INTO samples VALUES (?,?,?,?,?,?,?)", rows)
                self._db.commit()
            except sqlite3.OperationalError as exc:  # disk full, read-only, locked too long
                self._db.rollback()
                raise CacheError(
                    f"request cache {self.path}: cannot store {len(rows)} sample(s) ({exc}); "
                    "the samples stored before are kept; free space (or fix the file) and "
                    "run again to resume"
                ) from None
        self.writes += len(rows)

    def merge_from(self, path: str | Path) -> int:
        """Copy every sample of another cache file in (one transaction); returns how
        many were new here. Used to fold per-shard caches of distributed runs back in."""
        with self._lock:
            before = self._db.total_changes
            self._db.execute("ATTACH DATABASE ? AS shard", (str(path),))
            try:
                has = self._db.execute(
                    "SELECT 1 FROM shard.sqlite_master WHERE type='table' AND name='samples'"
                ).fetchone()
                if has:
                    self._db.execute("INSERT OR IGNORE INTO samples SELECT * FROM shard.samples")
                self._db.commit()
            finally:
                self._db.execute("DETACH DATABASE shard")
            added = self._db.total_changes - before
        self.writes += added
        return added

    def stats(self) -> dict[str, Any]:
        with self._lock:
            total, out_tokens = self._db.execute(
                "SELECT COUNT(*), COALESCE(SUM(output_tokens), 0) FROM samples"
            ).fetchone()
            engines = self._db.execute(
                "SELECT engine, COUNT(*) FROM samples GROUP BY engine ORDER BY 2 DESC"
            ).fetchall()
        size = sum(p.stat().st_size for p in (self.path, Path(f"{self.path}-wal")) if p.exists())
        return {
            "path": str(self.path),
            "samples": total,
            "output_tokens": out_tokens,
            "bytes": size,
            "engines": dict(engines),
        }

    def clear(self) -> int:
        with self._lock:
            n = self._db.execute("DELETE FROM samples").rowcount
            self._db.commit()
            self._db.execute("VACUUM")
        return n

    def close(self) -> None:
        with self._lock:
            self._db.close()
