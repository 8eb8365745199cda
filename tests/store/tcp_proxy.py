"""A TCP proxy in a thread, for tests that need a database that stops answering.

`TcpProxy(host, port)` listens on 127.0.0.1 (an ephemeral port) and forwards every connection to
`host:port`, both ways. `pause()` stops forwarding: bytes already sent stay in the socket buffers
and new connections are accepted but not forwarded, as when the server hangs or the network
stalls (the kernel still acknowledges every packet, so TCP keepalives see nothing wrong).
`resume()` forwards again; `close()` stops the thread and closes every socket.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import threading


class TcpProxy:
    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.setblocking(False)
        self.port = self._listener.getsockname()[1]
        self._paused = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = [self._listener]
        self._peers: dict[socket.socket, socket.socket] = {}
        self._waiting: list[socket.socket] = []  # accepted while paused: not yet connected
        self._thread = threading.Thread(target=self._run, daemon=True, name="test-tcp-proxy")
        self._thread.start()

    def url(self, user: str, database: str) -> str:
        return f"postgresql://{user}@127.0.0.1:{self.port}/{database}"

    def pause(self) -> None:
        self._paused.set()

    def resume(self) -> None:
        self._paused.clear()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        with self._lock:
            for sock in [*self._sockets, *self._waiting]:
                with contextlib.suppress(OSError):
                    sock.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            if self._paused.is_set():
                self._accept_only()
                continue
            self._connect_waiting()
            with self._lock:
                watched = list(self._sockets)
            ready = _readable(watched, 0.02)
            for sock in ready:
                if sock is self._listener:
                    self._accept(connect=True)
                else:
                    self._forward(sock)

    def _accept_only(self) -> None:
        if _readable([self._listener], 0.02):
            self._accept(connect=False)

    def _accept(self, *, connect: bool) -> None:
        try:
            client, _ = self._listener.accept()
        except BlockingIOError:
            return
        if connect:
            self._pair(client)
        else:
            self._waiting.append(client)

    def _connect_waiting(self) -> None:
        waiting, self._waiting = self._waiting, []
        for client in waiting:
            self._pair(client)

    def _pair(self, client: socket.socket) -> None:
        try:
            server = socket.create_connection(self.upstream, timeout=5)
        except OSError:
            client.close()
            return
        with self._lock:
            self._peers[client], self._peers[server] = server, client
            self._sockets += [client, server]

    def _forward(self, sock: socket.socket) -> None:
        peer = self._peers.get(sock)
        try:
            data = sock.recv(65536)
        except OSError:
            data = b""
        if data and peer is not None:
            try:
                peer.sendall(data)
                return
            except OSError:
                pass
        self._drop(sock)

    def _drop(self, sock: socket.socket) -> None:
        with self._lock:
            peer = self._peers.pop(sock, None)
            for one in (sock, peer):
                if one is None:
                    continue
                self._peers.pop(one, None)
                if one in self._sockets:
                    self._sockets.remove(one)
                with contextlib.suppress(OSError):
                    one.close()


def _readable(sockets: list[socket.socket], timeout: float) -> list[socket.socket]:
    with selectors.DefaultSelector() as selector:
        for sock in sockets:
            with contextlib.suppress(ValueError, OSError):  # closed meanwhile
                selector.register(sock, selectors.EVENT_READ)
        return [key.fileobj for key, _ in selector.select(timeout)]  # type: ignore[misc]
