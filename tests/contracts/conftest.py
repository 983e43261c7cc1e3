"""Make ``import contracts`` mean the package, not this test folder.

pytest puts ``tests/`` on ``sys.path`` (rootdir conftest, no ``__init__.py``), where
``tests/contracts`` would be found first as an empty namespace package. Putting
the repository root in front restores the real package for every test after this.
"""

from __future__ import annotations

import sys
from pathlib import Path

_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path[:1]:
    sys.path.insert(0, _ROOT)
if getattr(sys.modules.get("contracts"), "__file__", "") is None:  # a namespace stand-in
    for _name in [n for n in sys.modules if n == "contracts" or n.startswith("contracts.")]:
        del sys.modules[_name]
