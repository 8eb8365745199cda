"""Running test code in several threads at once, and test HTTP servers in the background."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from socketserver import BaseServer
from typing import TypeVar

Server = TypeVar("Server", bound=BaseServer)


def run_in_threads(target: Callable[[], object], count: int) -> None:
    """Start `count` threads running `target`, and wait for all of them."""
    threads = [threading.Thread(target=target) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


@contextmanager
def serving(server: Server) -> Iterator[Server]:
    """Serve `server` from a background thread; at the end set its `stop` event (when it has one:
    handlers holding a connection open wait on it), shut it down and close its socket."""
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield server
    finally:
        stop = getattr(server, "stop", None)
        if isinstance(stop, threading.Event):
            stop.set()
        server.shutdown()
        server.server_close()
        thread.join(5)
