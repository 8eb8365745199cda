"""One SQLite writer at a time per database file, across the threads and gunicorn workers of this
service, handed over without SQLite's busy-handler sleeps.

Two writers that meet at `BEGIN IMMEDIATE` are otherwise queued by SQLite's busy handler, which
sleeps 1, 2, 5, 10, 15, 20, 25 ... ms between attempts: under the production profile (a JWT
replay row per hook call, 2 workers x 4 threads, 8 connections) about one call in two slept
there (`strace -c`: 580 `clock_nanosleep` for 1,050 calls of one worker) and the p99 reached
136-696 ms. With the gate, the threads of a process queue on a lock that wakes the next one
at once, and the processes on an advisory `flock` of a sidecar file (`<database>-writer.lock`),
polled at sub-millisecond steps.

The gate only orders writers that use it: SQLite's own lock and busy timeout still decide, so a
writer outside it (the `sqlite3` shell, an older osteocds) is safe, only slower. A gate that
cannot be had within `timeout` seconds is given up and the transaction goes ahead under SQLite's
busy timeout as before (the gate speeds writers up; it never adds a way to fail).
A forked child (a gunicorn worker) gets a fresh lock and its own file description: an inherited
one would share the parent's `flock` and exclude nothing.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
import weakref
from pathlib import Path

FIRST_POLL_SECONDS = 0.00005  # 50 us, doubling to ...
LONGEST_POLL_SECONDS = 0.001  # ... 1 ms between attempts at the other processes' file lock
_gates: weakref.WeakSet[WriterGate] = weakref.WeakSet()


class WriterGate:
    """`acquire(timeout)` / `release()` around one write transaction on the database at `path`."""

    def __init__(self, path: Path) -> None:
        self.lock_path = path.with_name(path.name + "-writer.lock")
        self.gave_up = 0  # acquisitions abandoned at the timeout (diagnostics, tests)
        self._reset()
        _gates.add(self)

    def _reset(self) -> None:
        self._lock = threading.Lock()
        self._descriptor: int | None = None
        self._holds_file = False

    def _forget_parent(self) -> None:
        """In a forked child: the parent's threads are gone (a lock one of them held would never
        be released) and the inherited descriptor shares the parent's flock. Closing the
        child's copy leaves the parent's lock alone."""
        if self._descriptor is not None:
            os.close(self._descriptor)
        self._reset()

    def acquire(self, timeout: float) -> bool:
        """True when this thread may write alone (release it after the transaction); False when
        the gate could not be had in `timeout` seconds (nothing to release)."""
        deadline = time.monotonic() + timeout
        if not self._lock.acquire(timeout=timeout):
            self.gave_up += 1
            return False
        try:
            self._holds_file = self._lock_file(deadline)
        except OSError:  # no sidecar file (read-only directory, ...): SQLite alone, as before
            self._holds_file = False
        if not self._holds_file:
            self.gave_up += 1
            self._lock.release()
            return False
        return True

    def release(self) -> None:
        if self._holds_file and self._descriptor is not None:
            self._holds_file = False
            fcntl.flock(self._descriptor, fcntl.LOCK_UN)
        self._lock.release()

    def _lock_file(self, deadline: float) -> bool:
        if self._descriptor is None:
            self._descriptor = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC,
                                       0o600)
        pause = FIRST_POLL_SECONDS
        while True:
            try:
                fcntl.flock(self._descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                if time.monotonic() + pause > deadline:
                    return False
                time.sleep(pause)
                pause = min(pause * 2, LONGEST_POLL_SECONDS)

    def close(self) -> None:
        """Close the file (the next write opens it again)."""
        with self._lock:
            descriptor, self._descriptor = self._descriptor, None
        if descriptor is not None:
            os.close(descriptor)


def _after_fork_in_child() -> None:
    for gate in list(_gates):
        gate._forget_parent()


os.register_at_fork(after_in_child=_after_fork_in_child)
