"""A real fieldsync server in a subprocess on 127.0.0.1, for integration tests.

``LiveServer`` starts `fieldsync serve` on a free port against a real SQLite
file, waits until it answers, and can be stopped, SIGKILLed and restarted on
the same store, so fault tests can cut it down mid-batch.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

from server.accounts.users import token_create, user_add
from server.store import open_db


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    def __init__(self, db_path: Path, *, role: str = "office", workers: int = 2,
                 threads: int = 4, env: dict | None = None):
        self.db_path = Path(db_path)
        self.role = role
        self.workers = workers
        self.threads = threads
        self.env = env or {}
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.log_path = self.db_path.with_suffix(".log")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> LiveServer:
        cmd = [sys.executable, "-m", "server.cli", "serve", "--db", str(self.db_path),
               "--host", "127.0.0.1", "--port", str(self.port), "--role", self.role,
               "--workers", str(self.workers), "--threads", str(self.threads)]
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            env={**os.environ, **self.env},
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log_path.read_text()[-2000:]}")
            try:
                if requests.get(f"{self.url}/api/v1/health", timeout=1).ok:
                    return self
            except requests.RequestException:
                time.sleep(0.05)
        raise RuntimeError("server did not start in time")

    def stop(self) -> None:
        """Stop at once (gunicorn's quick shutdown); requests in flight are cut."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGQUIT)
            try:
                self.proc.wait(3)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)

    def kill(self) -> None:
        """SIGKILL the whole server (master and workers), as a power cut would."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def restart(self) -> LiveServer:
        self.stop()
        return self.start()

    def db(self):
        return open_db(self.db_path, migrate=True)

    def token_for(self, name: str, role: str, password: str | None = None) -> str:
        db = self.db()
        try:
            user_add(db, name, role, password)
            return token_create(db, name)
        finally:
            db.close()

    def session(self, token: str) -> requests.Session:
        s = requests.Session()
        s.headers["Authorization"] = f"Bearer {token}"
        return s
