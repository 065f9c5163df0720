"""Fixtures of the CLI tests: a server on loopback (tests/helpers/devices.py)."""

from tests.helpers.devices import site  # noqa: F401  (a fixture)
