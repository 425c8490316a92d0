"""Maintenance windows: planned work that pages nobody and breaks no promise
(docs/maintenance.md)."""
