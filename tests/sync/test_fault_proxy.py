"""The fault proxy itself: forwards faithfully, cuts where its seed says, switches off."""

from __future__ import annotations

import socket
import socketserver
import threading

import pytest

from tests.faults.proxy import FaultProxy

PAYLOAD = bytes(range(256)) * 64  # 16 KiB


class _Echo(socketserver.BaseRequestHandler):
    def handle(self):
        got = b""
        while len(got) < len(PAYLOAD):
            chunk = self.request.recv(65536)
            if not chunk:
                return
            got += chunk
        self.request.sendall(got)


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


def test_proxy_plan_is_deterministic_for_a_seed():
    a, b = FaultProxy(1, seed=42, cut_rate=0.5), FaultProxy(1, seed=42, cut_rate=0.5)
    plans_a = [a._plan(n)[:2] for n in range(1, 50)]
    assert plans_a == [b._plan(n)[:2] for n in range(1, 50)]
    assert {d for d, _ in plans_a} == {None, "up", "down"}
    assert plans_a != [FaultProxy(1, seed=43, cut_rate=0.5)._plan(n)[:2] for n in range(1, 50)]
