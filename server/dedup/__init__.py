"""Probable-duplicate detection at ingest.

    detector.py    the face ingest calls: one Detector per batch (describe,
                   check, record, close)
    rules.py       the four rules and their per-form settings
    keys.py        who a record is about and when: person key, round, day
    similarity.py  which answers are compared, their summary, the similarity
    lookups.py     where a batch's records find their candidates
    typo_map.py    the typo rule's map of person keys, held in memory

SQL lives in ``server.store.duplicates``; resolving matches in
``server.review.actions``.
"""

from server.dedup.detector import FLAG, Description, Detector, check_released
from server.dedup.rules import Rules

__all__ = ["FLAG", "Description", "Detector", "Rules", "check_released"]
