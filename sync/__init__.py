"""The sync protocol, the device store and client, and the push/pull engine."""
