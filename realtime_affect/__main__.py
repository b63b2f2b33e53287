"""``python -m realtime_affect``: the same as ``affect-live``."""
from __future__ import annotations

import sys

from realtime_affect.cli import main

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
