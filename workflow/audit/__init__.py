"""The audit chain: sealing events into a per-ticket hash chain (chain.py), checking it
(verify.py) and replaying a history against the stored rows (consistency.py)."""
