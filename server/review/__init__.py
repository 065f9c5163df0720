"""The supervisor's review: queues, review states and resolving probable duplicates."""
