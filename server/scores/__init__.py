"""Scores in the store: scoring specs, rescoring, trends and scoring files."""
