"""`python -m faultflow.cli` runs the `faultflow` command."""

from .app import main

main()
