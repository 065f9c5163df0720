"""Errors raised by the sync package, a ``forms.errors.CodedError`` as every
package's errors are: ``code`` (stable), ``message`` (what to fix), ``status``
(HTTP-like; a caller may give its own, e.g. the status a server answered),
``details``.
"""

from __future__ import annotations

from forms.errors import CodedError

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


class SyncError(CodedError):
    """A sync, device or Collect-import problem; ``code`` names which."""

    STATUS = STATUS
