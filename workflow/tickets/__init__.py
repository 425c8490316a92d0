"""A ticket's life: the one unit of work every change goes through (unit.py), the draft it
changes (draft.py), the operators' changes (writes.py), intake (receive.py), the input and time
policy (policy.py), contract roll-outs (rollout.py), and the read side (queries.py, views.py)."""
