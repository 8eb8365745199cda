"""Issued-card rows written behind the hook calls: a call queues its rows (no I/O), a daemon thread
of the process writes everything queued every `period` seconds in one transaction.

Why: the row's INSERT cost ~100 us of a hook call in process and about twenty file system calls
under SQLite's write lock, each a GIL hand-off between a worker's threads (switching the row off
entirely: +5 % req/s in one A/B run); queuing costs ~25 us, and one transaction a second writes
every call's rows (docs/performance.md, round 7).

What it costs: rows reach the database up to `period` seconds after the answer. Readers in this
process see them at once (`Store.iter_issued_cards` and `iter_feedback` flush first); the
feedback report, another process, sees rows older than `period`. A process stopped normally
(SIGTERM, gunicorn's graceful stop, a worker restart, interpreter exit) writes what it holds; a
process killed with SIGKILL or an OS crash loses at most the last `period` seconds of rows, and
feedback on those cards is then reported under topic `unknown`. Feedback itself is never queued.
While the store cannot be written, rows wait, up to `max_pending`; beyond that the oldest are
dropped and counted (`dropped`), with a warning: before this queue, every such row was lost at once.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import weakref
from collections.abc import Callable, Sequence
from datetime import datetime

from service.store.background import PeriodicThread

logger = logging.getLogger(__name__)

ISSUED_CARDS_FLUSH_SECONDS = 1.0
MAX_PENDING_ROWS = 20_000  # ~10 minutes of a busy worker's rows; about 3 MB

IssuedRow = tuple[str, str | None, str, datetime]
"""(card uuid, topic, service id, issued at) of one answered card."""


class IssuedCardQueue:
    """Rows waiting for `write(rows)` (one transaction; returns the rows added).

    `period` 0 writes in `add`, on the caller's thread (no queue, no thread)."""

    def __init__(self, write: Callable[[Sequence[IssuedRow]], int], *,
                 period: float = ISSUED_CARDS_FLUSH_SECONDS,
                 max_pending: int = MAX_PENDING_ROWS) -> None:
        self.period = period
        self.max_pending = max_pending
        self.dropped = 0  # rows given up while the store could not be written
        self._write = write
        self._pending: list[IssuedRow] = []
        self._pid = os.getpid()
        self._lock = threading.Lock()  # guards _pending and _pid
        self._flush_lock = threading.Lock()  # one flush at a time: a reader waits for a write
        self.thread = PeriodicThread("Issued-card write", period or 1.0, self.flush)
        atexit.register(_flush_at_exit, weakref.ref(self))

    def add(self, rows: Sequence[IssuedRow]) -> None:
        """Queue the rows of one answer (written within `period` seconds)."""
        if not rows:
            return
        if not self.period:
            self._write(rows)
            return
        with self._lock:
            self._adopt_process()
            self._pending.extend(rows)
            full = len(self._pending) >= self.max_pending
        self.thread.ensure_running()
        if full:
            self.flush()  # the store is slow or down: the caller waits (or rows are dropped)

    def flush(self) -> int:
        """Write every queued row now; returns the rows added. On failure the rows stay queued
        (the oldest dropped beyond `max_pending`) and the error propagates."""
        with self._flush_lock:
            with self._lock:
                self._adopt_process()
                rows, self._pending = self._pending, []
            if not rows:
                return 0
            try:
                return self._write(rows)
            except Exception:
                self._requeue(rows)
                raise

    def pending(self) -> int:
        with self._lock:
            self._adopt_process()
            return len(self._pending)

    def close(self) -> None:
        """Stop the thread and write what is queued (errors are logged, not raised)."""
        self.thread.stop()
        try:
            self.flush()
        except Exception as error:
            logger.warning("%d issued-card rows could not be written (%s)",
                           self.pending(), error)

    def _adopt_process(self) -> None:
        """After a fork the child starts empty: the parent writes the rows it queued."""
        if self._pid != os.getpid():
            self._pid, self._pending = os.getpid(), []

    def _requeue(self, rows: list[IssuedRow]) -> None:
        with self._lock:
            self._pending[:0] = rows
            excess = len(self._pending) - self.max_pending
            if excess > 0:
                del self._pending[:excess]
                self.dropped += excess
        if excess > 0:
            logger.warning("dropped the %d oldest issued-card rows: the store cannot be written",
                           excess)


def _flush_at_exit(queue_ref: weakref.ref[IssuedCardQueue]) -> None:
    queue = queue_ref()
    if queue is not None and queue.period:
        queue.close()
