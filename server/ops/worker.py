"""`fieldsync worker`: the scheduled jobs, in their own process, one per deployment.

    worker(db_path)          takes the lock, then runs an APScheduler
                             BlockingScheduler until SIGTERM/SIGINT:
      forward   every N s    forward_until_idle() to the upstream (server.forwarding.forwarder)
      rescore   every M s    server.scores.rescore.rescore_pending(db), if that module exists

Exactly one scheduler runs per store, however many web workers or `fieldsync
worker` processes are started: the worker holds an exclusive ``fcntl`` lock on
``<db>.worker.lock`` (next to the store, so on the same local disk SQLite needs)
for its whole life. A second worker waits on standby and takes over when the
first one exits or dies (the kernel releases the lock with the process).
"""

from __future__ import annotations

import fcntl
import importlib
import logging
import os
import signal
import time
from pathlib import Path

import requests
from apscheduler.schedulers.blocking import BlockingScheduler

from server import logs
from server.forwarding.forwarder import forward_until_idle
from server.store import open_db

log = logging.getLogger("fieldsync.worker")


class WorkerLock:
    """An exclusive lock file next to the store; released when the process ends."""

    def __init__(self, db_path: str | Path):
        self.path = Path(f"{os.path.abspath(db_path)}.worker.lock")
        self._fd: int | None = None

    def acquire(self, *, wait: bool = True, poll: float = 0.5, on_wait=None) -> bool:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        told = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if not wait:
                    os.close(fd)
                    return False
                if not told and on_wait:
                    on_wait()
                    told = True
                time.sleep(poll)
                continue
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
            self._fd = fd
            return True

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def forward_job(db_path: str, office: str, timeout: float, backoff_cap: float) -> dict:
    """One scheduled forwarding round: send everything queued, or back off."""
    db = open_db(db_path)
    try:
        with requests.Session() as session:
            result = forward_until_idle(db, session, office=office,
                                        timeout=(min(5.0, timeout), timeout),
                                        backoff_cap=backoff_cap)
    finally:
        db.close()
    if result["sent"] or result["dead"] or result["status"] == "failed":
        log.info("forward", extra={"fields": result})
    return result


def rescore_job(db_path: str) -> None:
    """Run the rescoring job of `server.scores.rescore` if that module is installed."""
    try:
        rescore = importlib.import_module("server.scores.rescore")
    except ModuleNotFoundError:
        return
    db = open_db(db_path)
    try:
        rescore.rescore_pending(db)
    finally:
        db.close()


def worker(db_path: str, *, interval: float = 10.0, rescore_interval: float = 300.0,
           office: str | None = None, timeout: float = 30.0, wait: bool = True,
           backoff_cap: float = 600.0) -> int:
    """Run the scheduled jobs until stopped; returns 1 if the lock was not free."""
    logs.configure()
    db_path = os.path.abspath(db_path)
    open_db(db_path, migrate=True).close()
    office = office or os.environ.get("FIELDSYNC_OFFICE", "office")
    lock = WorkerLock(db_path)
    if not lock.acquire(wait=wait, on_wait=lambda: log.warning(
            "standby: another worker holds the lock", extra={"fields": {
                "lock": str(lock.path)}})):
        return 1
    log.info("worker started", extra={"fields": {"db": db_path, "pid": os.getpid(),
                                                 "interval": interval}})
    scheduler = BlockingScheduler(timezone="UTC")
    scheduler.add_job(forward_job, "interval", seconds=interval, id="forward",
                      args=[db_path, office, timeout, backoff_cap], max_instances=1, coalesce=True,
                      next_run_time=_now())
    scheduler.add_job(rescore_job, "interval", seconds=rescore_interval, args=[db_path],
                      id="rescore", max_instances=1, coalesce=True)

    def stop(_sig, _frame):
        scheduler.shutdown(wait=False)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        scheduler.start()
    finally:
        lock.release()
    return 0


def _now():
    from datetime import datetime, timezone

    return datetime.now(timezone.utc)
