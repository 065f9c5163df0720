"""The fault proxy itself: forwards faithfully, cuts where its seed says, switches off."""

from __future__ import annotations

import socket
import socketserver
import threading

import pytest

from tests.helpers.fault_proxy import FaultProxy

PAYLOAD = bytes(range(256)) * 64  # 16 KiB


class _Echo(socketserver.BaseRequestHandler):
    def handle(self):
        got = b""
        try:
            while len(got) < len(PAYLOAD):
                chunk = self.request.recv(65536)
                if not chunk:
                    return
                got += chunk
            self.request.sendall(got)
        except ConnectionError:  # the proxy cut this connection, as asked
            return


@pytest.fixture
def echo_port():
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Echo)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def roundtrip(port: int) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        try:
            s.sendall(PAYLOAD)
            out = b""
            while len(out) < len(PAYLOAD):
                chunk = s.recv(65536)
                if not chunk:
                    break
                out += chunk
            return out
        except OSError:
            return b"<cut>"


def test_proxy_without_faults_forwards_every_byte_both_ways(echo_port):
    with FaultProxy(echo_port, delay=0.001) as proxy:
        assert all(roundtrip(proxy.port) == PAYLOAD for _ in range(5))
        assert proxy.stats.cuts_up == proxy.stats.cuts_down == 0


def test_proxy_cuts_every_connection_when_asked(echo_port):
    with FaultProxy(echo_port, seed=3, cut_rate=1.0, max_offset=4096) as proxy:
        answers = [roundtrip(proxy.port) for _ in range(6)]
        assert all(a != PAYLOAD for a in answers)
        assert proxy.stats.cuts_up + proxy.stats.cuts_down == 6


def test_proxy_switched_off_is_a_plain_pipe(echo_port):
    with FaultProxy(echo_port, seed=3, cut_rate=1.0) as proxy:
        proxy.enabled = False
        assert roundtrip(proxy.port) == PAYLOAD


def test_proxy_cut_points_are_deterministic_for_a_seed():
    def plan(seed):
        proxy = FaultProxy(1, seed=seed, cut_rate=0.5, max_offset=1000)
        return [(proxy.cut_points(n, "up"), proxy.cut_points(n, "down")) for n in range(40)]

    assert plan(42) == plan(42)
    assert plan(42) != plan(43)
    offsets = [o for pair in plan(42) for o in pair]
    assert all(o is not None for o in offsets)
    assert min(offsets) < 1000 < max(offsets)


def test_proxy_cuts_only_the_chosen_direction():
    proxy = FaultProxy(1, seed=1, cut_rate=1.0, directions=("down",))
    assert proxy.cut_points(1, "up") is None and proxy.cut_points(1, "down") is not None
