"""Store-and-forward from an office to HQ: the outbox, the forwarder, and what HQ keeps."""
