"""The contract: its file's shape and the compiled model (model.py), the lifecycle machine built
from it (machine.py), the versions a database keeps (versions.py), and its drawing (graph.py)."""
