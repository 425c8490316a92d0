"""The ``faultflow`` command line (click)."""

from .app import main

__all__ = ["main"]
