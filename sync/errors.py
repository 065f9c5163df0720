"""Errors raised by the sync package, with the attribute shape every package uses:
``code`` (stable), ``message`` (what to fix), ``status`` (HTTP-like), ``details``.
"""

from __future__ import annotations

STATUS = {
    "batch_invalid": 400,
    "record_invalid": 400,
    "batch_too_large": 413,
    "device_not_initialised": 400,
    "server_unreachable": 503,
    "server_refused": 400,
    "collect_folder_invalid": 400,
    "form_not_cached": 404,
    "record_conflict": 409,
    "device_store_failed": 500,
    "fill_aborted": 400,
}


class SyncError(Exception):
    def __init__(self, code: str, message: str, details: dict | None = None,
                 status: int | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details or {}
        self.status = status or STATUS.get(code, 400)
