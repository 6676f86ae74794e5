"""The plugins are plain Python files in plugins/modules, plugins/filter and plugins/action:
import them."""

from __future__ import annotations

import sys
from pathlib import Path

PLUGINS = Path(__file__).resolve().parents[2] / "plugins"
for folder in ("modules", "filter", "action"):
    if str(PLUGINS / folder) not in sys.path:
        sys.path.insert(0, str(PLUGINS / folder))
