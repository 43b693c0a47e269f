"""Imported (as a top-level module) by a conversion script run by path, ``python conversion/convert_x.py``.

Python then puts ``conversion/`` itself on ``sys.path``, not the repository root, so ``import conversion``
would fail; this adds the root. ``python -m conversion.convert_x`` and imports never need it.
"""

import sys
from pathlib import Path

REPO_ROOT = str(Path(__file__).resolve().parents[1])
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)
