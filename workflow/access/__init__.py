"""Who may do what: API tokens and their scopes (tokens.py), signed links and sessions
(signing.py), and secrets kept out of logs (secrets.py)."""
