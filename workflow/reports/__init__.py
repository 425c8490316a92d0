"""What people read about many tickets or one: the compliance report (compliance.py, html.py,
render.py), the customer's handling report (handling.py), monitoring counts (census.py), and the
Jinja2 environment they share (templating.py)."""
