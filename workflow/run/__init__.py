"""The background work: the timers, the escalation steps, the delivery of the outbox and the
mailbox poller, each a pass the scheduler loop (scheduler.py) runs; every ticket change they
make goes through the one unit of work (tickets/unit.py)."""
