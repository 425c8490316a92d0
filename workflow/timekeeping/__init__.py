"""Time, pure: moments and zones (times.py), durations as people write them (durations.py),
business calendars (calendars.py) and clock arithmetic (clocks.py). No database, no I/O."""
