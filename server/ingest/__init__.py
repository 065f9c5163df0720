"""The one ingest pipeline every door ends in, and what it runs for each record."""
