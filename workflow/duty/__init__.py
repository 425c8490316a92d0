"""People on duty: people.toml, rosters and escalation chains, pure (people.py), and the
overrides the database records (overrides.py)."""
