"""``python -m tutorial_lib``: the ``tutorial-lib`` command line (see :mod:`tutorial_lib.cli`)."""

from __future__ import annotations

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
