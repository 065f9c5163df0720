"""Fixtures of the sync tests: a server on loopback (tests/helpers/devices.py)."""

from tests.helpers.devices import own_site, site  # noqa: F401  (fixtures)
