"""A client-side time limit on database round trips: a transaction that outlives its deadline has
its connection's socket shut down, so the thread waiting on it gets an error at once.

Why a watchdog: the server's `statement_timeout` only runs once the server has the statement, and
TCP keepalives and `tcp_user_timeout` only notice a peer whose kernel stops acknowledging. When
PostgreSQL hangs (a stopped process, a stalled proxy or load balancer), the kernel keeps
acknowledging and psycopg waits for an answer forever: every hook call hung there (45 s and more)
with `/healthz` and `/readyz` stuck behind them. The shut-down socket makes libpq report "server
closed the connection unexpectedly"; the store then forgets that connection (never reused) and
opens a new one for the next call.

One thread per process (`PeriodicThread`) checks the armed deadlines every `period` seconds, so a
deadline fires up to `period` late; arming and disarming one costs a lock and a dict operation,
no thread wake-up. The socket shut down is a duplicate of the connection's descriptor
(`socket.dup`), taken when the connection opened: it stays valid even if libpq closed its own
descriptor meanwhile, and is closed with the connection.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
import weakref

from service.store.background import PeriodicThread

WATCH_PERIOD_SECONDS = 0.25
_watches: weakref.WeakSet[DeadlineWatch] = weakref.WeakSet()


class Deadline:
    """One armed deadline; `fired` once the watch shut its socket down."""

    __slots__ = ("at", "fired", "sock")

    def __init__(self, sock: socket.socket, at: float) -> None:
        self.sock = sock
        self.at = at
        self.fired = False


class DeadlineWatch:
    def __init__(self, period: float = WATCH_PERIOD_SECONDS) -> None:
        self._reset()
        self.fired = 0  # deadlines that fired in this process (tests, diagnostics)
        self.thread = PeriodicThread("Database deadline watch", period, self.expire)
        _watches.add(self)

    def _reset(self) -> None:
        self._lock = threading.Lock()
        self._armed: dict[int, Deadline] = {}

    def arm(self, sock: socket.socket, seconds: float) -> Deadline:
        """Shut `sock` down unless `disarm` comes within `seconds`."""
        deadline = Deadline(sock, time.monotonic() + seconds)
        with self._lock:
            self._armed[id(deadline)] = deadline
        self.thread.ensure_running()
        return deadline

    def disarm(self, deadline: Deadline) -> None:
        with self._lock:
            self._armed.pop(id(deadline), None)

    def expire(self) -> None:
        """Fire every deadline past due (the watch thread calls this every period)."""
        now = time.monotonic()
        with self._lock:
            due = [key for key, deadline in self._armed.items() if deadline.at <= now]
            for key in due:
                deadline = self._armed.pop(key)
                deadline.fired = True
                self.fired += 1
                with contextlib.suppress(OSError):  # already closed by the peer
                    deadline.sock.shutdown(socket.SHUT_RDWR)

    def stop(self) -> None:
        self.thread.stop()


def _after_fork_in_child() -> None:
    """A lock held by a parent thread at the fork would never be released in the child."""
    for watch in list(_watches):
        watch._reset()


os.register_at_fork(after_in_child=_after_fork_in_child)
