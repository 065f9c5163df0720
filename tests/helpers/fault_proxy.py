"""A fault-injecting TCP proxy on 127.0.0.1, for sync fault tests.

    proxy = FaultProxy(server_port, seed=7, cut_rate=0.3, delay=0.02).start()
    push_records(session, proxy.url, ...)     # goes through the faults
    proxy.enabled = False                     # now a plain pipe
    proxy.stop()

Where each accepted connection is cut is drawn from ``random.Random`` seeded
with the proxy's seed, the connection's number and the direction: in every
window of ``max_offset`` bytes flowing one way, with probability ``cut_rate``,
the connection is reset (RST) at a random offset, client->server ("up": the
server never sees the whole request) or server->client ("down": the server may
have committed, the answer is lost). Keep-alive connections carrying many
requests are therefore cut too. ``delay`` adds up to that many seconds
before each forwarded chunk. Everything is bounded: sockets time out after
``idle_timeout``, ``stop`` closes every socket and joins every thread.

It only ever connects to 127.0.0.1.
"""

from __future__ import annotations

import random
import select
import socket
import struct
import threading
import time
from dataclasses import dataclass, field

HOST = "127.0.0.1"
POLL = 0.05


@dataclass
class ProxyStats:
    connections: int = 0
    cuts_up: int = 0
    cuts_down: int = 0
    bytes_up: int = 0
    bytes_down: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, **counts) -> None:
        with self.lock:
            for name, n in counts.items():
                setattr(self, name, getattr(self, name) + n)


class FaultProxy:
    def __init__(self, target_port: int, *, seed: int = 0, cut_rate: float = 0.0,
                 max_offset: int = 8192, delay: float = 0.0, directions=("up", "down"),
                 idle_timeout: float = 30.0):
        self.target_port = target_port
        self.seed = seed
        self.cut_rate = cut_rate
        self.max_offset = max_offset
        self.delay = delay
        self.directions = tuple(directions)
        self.idle_timeout = idle_timeout
        self.enabled = True
        self.stats = ProxyStats()
        self._listener: socket.socket | None = None
        self._threads: list[threading.Thread] = []
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self) -> FaultProxy:
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((HOST, 0))
        self._listener.listen(128)
        self._listener.settimeout(0.2)
        self.port = self._listener.getsockname()[1]
        self._spawn(self._accept_loop)
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        if self._listener is not None:
            self._listener.close()
        deadline = time.monotonic() + timeout
        for t in list(self._threads):
            t.join(max(0.0, deadline - time.monotonic()))
        with self._lock:
            leftovers = list(self._sockets)
        for s in leftovers:
            _close(s, reset=True)

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *_exc) -> None:
        self.stop()

    # -- internals -------------------------------------------------------------

    def _spawn(self, target, *args) -> None:
        t = threading.Thread(target=target, args=args, daemon=True)
        with self._lock:
            self._threads = [x for x in self._threads if x.is_alive()]
            self._threads.append(t)
        t.start()

    def _track(self, s: socket.socket) -> None:
        s.settimeout(self.idle_timeout)
        with self._lock:
            self._sockets.add(s)

    def _accept_loop(self) -> None:
        number = 0
        while not self._stopping.is_set():
            try:
                client, _ = self._listener.accept()
            except (TimeoutError, socket.timeout):
                continue
            except OSError:
                return
            number += 1
            self.stats.add(connections=1)
            self._spawn(self._serve, client, number)

    def cut_points(self, number: int, direction: str):
        """The byte offsets at which connection ``number`` is cut in ``direction``.

        The stream is cut into windows of ``max_offset`` bytes; each window holds
        a cut, at a uniform offset, with probability ``cut_rate``. Only the first
        cut matters (the connection dies), so this yields at most one offset.
        Deterministic: a function of the seed, the connection number and direction.
        """
        if not (self.enabled and self.cut_rate) or direction not in self.directions:
            return None
        rng = random.Random(f"{self.seed}:{number}:{direction}")
        start = 0
        for _ in range(100_000):  # bounded: a window of nothing is 100k windows away
            if rng.random() < self.cut_rate:
                return start + rng.randint(0, self.max_offset)
            start += self.max_offset
        return None

    def _serve(self, client: socket.socket, number: int) -> None:
        self._track(client)
        try:
            upstream = socket.create_connection((HOST, self.target_port), timeout=5)
        except OSError:
            _close(client, reset=True)
            self._forget(client)
            return
        self._track(upstream)
        delay = self.delay if self.enabled else 0.0
        conn = _Connection()
        self._spawn(self._pump, conn, upstream, client, "down",
                    self.cut_points(number, "down"), delay,
                    random.Random(f"{self.seed}:{number}:delay-down"))
        self._pump(conn, client, upstream, "up", self.cut_points(number, "up"), delay,
                   random.Random(f"{self.seed}:{number}:delay-up"))

    def _pump(self, conn, src, dst, direction, cut_at, delay, rng) -> None:
        sent, idle = 0, 0.0
        try:
            while not (self._stopping.is_set() or conn.cut):
                ready, _, _ = select.select([src], [], [], POLL)
                if not ready:
                    idle += POLL
                    if idle >= self.idle_timeout:
                        conn.cut = True
                    continue
                idle = 0.0
                chunk = src.recv(65536)
                if not chunk:
                    dst.shutdown(socket.SHUT_WR)
                    break
                if delay:
                    time.sleep(rng.uniform(0, delay))
                if cut_at is not None and sent + len(chunk) >= cut_at:
                    dst.sendall(chunk[:cut_at - sent])
                    self.stats.add(**{f"cuts_{direction}": 1})
                    conn.cut = True
                    break
                dst.sendall(chunk)
                sent += len(chunk)
                self.stats.add(**{f"bytes_{direction}": len(chunk)})
        except (OSError, ValueError):
            conn.cut = True
        finally:
            if conn.done():  # the last of the two pumps closes both sockets
                for s in (src, dst):
                    _close(s, reset=conn.cut or self._stopping.is_set())
                    self._forget(s)

    def _forget(self, s: socket.socket) -> None:
        with self._lock:
            self._sockets.discard(s)


class _Connection:
    """The two pumps of one proxied connection; ``cut`` tells both to stop."""

    def __init__(self):
        self.cut = False
        self._ended = 0
        self._lock = threading.Lock()

    def done(self) -> bool:
        with self._lock:
            self._ended += 1
            return self._ended == 2


def _close(s: socket.socket, reset: bool = False) -> None:
    try:
        if reset:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
    except OSError:
        pass
