"""``python -m faultflow.http.intake_process FD``: the intake process of ``faultflow serve``
(``hands.Apart`` starts it, with its end of a socket pair as FD, and stops it)."""

import sys
from multiprocessing.connection import Connection

from .hands import serve

if __name__ == "__main__":
    serve(Connection(int(sys.argv[1])))
