"""Running fieldsync: the server process, the worker process, backup and restore."""
