"""expflow-git: policy-as-code for ML experiments kept in git.

The public Python API (docs/api.md) is exported lazily: `import expflow_git` stays cheap
(every hook imports it) and loads click, jsonschema or git only when a name is used.
"""

from __future__ import annotations

__version__ = "0.1.0"
TOOL_NAME = "expflow-git"

# typing's constant without importing typing: nothing here loads a module (typing took
# ~8 ms), so a Ctrl-C as the CLI starts falls inside its handling (`__main__.main`), not
# in this file's imports with a traceback (issue 18 twenty-ninth pass). Type checkers
# read the name as typing's.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from expflow_git.documents import Status
    from expflow_git.errors import ExpflowError
    from expflow_git.outcomes import AuditResult, RankedRow, RankResult, VerifyResult
    from expflow_git.policy.model import numeric
    from expflow_git.repository import Repository
    from expflow_git.run import ActiveRun, Run
    from expflow_git.seeds import (
        Check,
        Comparison,
        GateVerdict,
        RulesVerdict,
        ScoreRow,
        compare_scores,
        gate_scores,
        validate_competition_rules,
    )

# public name → the module that defines it
_EXPORTS = {
    "Repository": "expflow_git.repository",
    "Run": "expflow_git.run",
    "ActiveRun": "expflow_git.run",
    "Status": "expflow_git.documents",
    "ExpflowError": "expflow_git.errors",
    "AuditResult": "expflow_git.outcomes",
    "RankResult": "expflow_git.outcomes",
    "RankedRow": "expflow_git.outcomes",
    "VerifyResult": "expflow_git.outcomes",
    "numeric": "expflow_git.policy.model",
    "validate_competition_rules": "expflow_git.seeds",
    "compare_scores": "expflow_git.seeds",
    "gate_scores": "expflow_git.seeds",
    "Check": "expflow_git.seeds",
    "RulesVerdict": "expflow_git.seeds",
    "Comparison": "expflow_git.seeds",
    "ScoreRow": "expflow_git.seeds",
    "GateVerdict": "expflow_git.seeds",
}

__all__ = [
    "TOOL_NAME",
    "__version__",
    "Repository",
    "Run",
    "ActiveRun",
    "Status",
    "ExpflowError",
    "AuditResult",
    "RankResult",
    "RankedRow",
    "VerifyResult",
    "numeric",
    "validate_competition_rules",
    "compare_scores",
    "gate_scores",
    "Check",
    "RulesVerdict",
    "Comparison",
    "ScoreRow",
    "GateVerdict",
]


def __getattr__(name: str) -> Any:
    """Import a public name's module on first use (PEP 562)."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'expflow_git' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
