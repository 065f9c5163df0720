"""Consolidated exports streamed as CSV, JSON lines or XLSX."""
