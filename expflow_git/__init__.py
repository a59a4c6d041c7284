"""expflow-git: policy-as-code for ML experiments kept in git."""

from __future__ import annotations

__version__ = "0.1.0"
TOOL_NAME = "expflow-git"
