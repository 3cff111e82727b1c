"""A TCP proxy on 127.0.0.1 that a test can cut and restore, to take a service (Camunda,
PostgreSQL, RabbitMQ) 'down' without stopping it for other tests and other test runs.

``cut()`` closes the listening socket and every open connection, so new connections are
refused exactly as with a stopped engine; ``restore()`` listens on the same port again.

``freeze()`` stands in for a hung service (a JVM under SIGSTOP, a stalled database): connections
are still accepted, but no byte is passed on in either direction until ``thaw()``, which lets
everything held back go through, as a resumed process would answer what queued meanwhile.
"""

from __future__ import annotations

import socket
import threading
from urllib.parse import urlsplit, urlunsplit


class TcpProxy:
    def __init__(self, target_host: str, target_port: int, port: int = 0) -> None:
        self.target = (target_host, target_port)
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._listener: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self.connections = 0  # accepted while up (tests check that a client reconnected)
        self._flowing = threading.Event()
        self._flowing.set()
        self.port = port
        self._listen()

    @classmethod
    def for_url(cls, url: str) -> "TcpProxy":
        parts = urlsplit(url)
        return cls(parts.hostname or "localhost", parts.port or 80)

    def url_for(self, url: str) -> str:
        """``url`` with its host:port replaced by the proxy's."""
        parts = urlsplit(url)
        userinfo = parts.netloc.rpartition("@")[0]
        netloc = (userinfo + "@" if userinfo else "") + f"127.0.0.1:{self.port}"
        return urlunsplit(parts._replace(netloc=netloc))

    @property
    def up(self) -> bool:
        return self._listener is not None

    def _listen(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        listener.settimeout(0.1)
        self.port = listener.getsockname()[1]
        self._listener = listener
        self._thread = threading.Thread(target=self._accept_loop, args=(listener,), name="tcp-proxy", daemon=True)
        self._thread.start()

    def cut(self) -> None:
        """Refuse new connections and drop the open ones, as a stopped service would."""
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()
            if self._thread is not None:
                self._thread.join(2)
        with self._lock:
            sockets, self._sockets = list(self._sockets), set()
        for s in sockets:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def restore(self) -> None:
        if self._listener is None:
            self._listen()

    @property
    def frozen(self) -> bool:
        return not self._flowing.is_set()

    def freeze(self) -> None:
        """Keep accepting connections but pass nothing on, so callers hang until their own timeouts."""
        self._flowing.clear()

    def thaw(self, *, drop_held: bool = False) -> None:
        """Pass bytes on again. With ``drop_held`` the connections open during the freeze are dropped
        first, so no request sent while frozen reaches the service late."""
        if drop_held:
            with self._lock:
                held, self._sockets = list(self._sockets), set()
            for s in held:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()
        self._flowing.set()

    def close(self) -> None:
        self._flowing.set()  # let frozen pipes run into the closed sockets and end
        self.cut()

    def _accept_loop(self, listener: socket.socket) -> None:
        while self._listener is listener:
            try:
                client, _ = listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            client.settimeout(None)
            with self._lock:
                self._sockets.update((client, upstream))
                self.connections += 1
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                self._flowing.wait()
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()
            with self._lock:
                self._sockets.discard(source)
                self._sockets.discard(sink)
