"""A small job run every few seconds from a daemon thread of each process (the store's WAL
checkpoints and issued-card writes), so that no hook call pays for it."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable

logger = logging.getLogger(__name__)


class PeriodicThread:
    """Calls `job()` every `period` seconds from a daemon thread of this process.

    The thread starts on `ensure_running()`, again after a fork (threads do not survive one), and
    ends on `stop()`; `on_exit()`, if given, then runs on it (to close what the job opened). A
    failing job is logged once per kind of failure and once when it works again, not every
    period, under `name` ("WAL checkpoint failed (disk I/O error); retrying every 1 s")."""

    def __init__(self, name: str, period: float, job: Callable[[], object], *,
                 on_exit: Callable[[], object] | None = None) -> None:
        self.name = name
        self.period = period
        self._job = job
        self._on_exit = on_exit
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid = 0

    def ensure_running(self) -> None:
        if self.is_running():  # the common case (every hook call asks), without the lock
            return
        with self._lock:
            if self.is_running():
                return
            self._stop = threading.Event()
            self._pid = os.getpid()
            self._thread = threading.Thread(
                target=self._run, args=(self._stop,), daemon=True,
                name=f"osteocds-{self.name.lower().replace(' ', '-')}")
            self._thread.start()

    def is_running(self) -> bool:
        thread = self._thread
        return self._pid == os.getpid() and thread is not None and thread.is_alive()

    def stop(self) -> None:
        """Stop the thread and wait for it (up to 5 s) unless called from it."""
        with self._lock:
            self._stop.set()
            thread, self._thread = self._thread, None
        in_this_process = self._pid == os.getpid()
        if thread is not None and in_this_process and thread is not threading.current_thread():
            thread.join(timeout=5)

    def _run(self, stop: threading.Event) -> None:
        last_error = ""
        try:
            while not stop.wait(self.period):
                try:
                    self._job()
                except Exception as error:  # e.g. the disk is full: try again next period
                    if str(error) != last_error:
                        logger.warning("%s failed (%s); retrying every %g s",
                                       self.name, error, self.period)
                    last_error = str(error)
                    continue
                if last_error:
                    logger.warning("%s works again", self.name)
                    last_error = ""
        finally:
            if self._on_exit is not None:
                self._on_exit()
