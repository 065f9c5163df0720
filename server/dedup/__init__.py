"""Probable-duplicate detection: the rules, person keys, answer similarity and candidate lookups."""
