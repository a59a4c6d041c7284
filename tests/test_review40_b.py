"""Review (b) of the fortieth pass (issue 18): each test fails on HEAD 22a8e6e.

- `without_uri_secrets` splits a URL read to a blank where another begins: a compact
  JSON body quoting many URLs with passwords is now one URL cut in thousands of pieces,
  each piece's secrets joined into one alternation matched at every character of the
  message: quadratic (the old code read it as one URL, 0.13 s for 750 KB; HEAD 76 s).
- The split shows part of a password SQLAlchemy reads whole when the password holds
  `/scheme://user:` (the piece after it drops its own `:password`, so the whole's
  password is no longer in the text to be masked); and a JSON-escaped URL with a plain
  `x://` in its password.
- `importers.source.study_id` makes only `study_as` plain text: a `str` Enum member given
  as Optuna's study name (no `study_as`) still names `experiments/S.T/`.

Every secret here is made at run time, so this file holds nothing a scanner would flag.
"""

from __future__ import annotations

import enum
import subprocess
import sys
import time
from pathlib import Path

import pytest

from expflow_git.importers.source import without_uri_secrets

pytestmark = pytest.mark.usefixtures("isolated_env")

SECRET = "Hunter2" + "pw"


def _timed_child(code: str, seconds: float) -> float | None:
    """Seconds `code` took in a child, None on timeout."""
    start = time.perf_counter()
    try:
        subprocess.run([sys.executable, "-c", code], check=True, timeout=seconds)
    except subprocess.TimeoutExpired:
        return None
    return time.perf_counter() - start


def test_compact_json_of_many_urls_is_masked_in_linear_time() -> None:
    # 8,000 URLs with passwords quoted in one compact JSON body (~380 KB): HEAD ~22 s
    # (1,000: 0.7 s; 4,000: 5.3 s; 16,000: 76 s); before the split 0.05 s.
    code = (
        "import random, string\n"
        "from expflow_git.importers.source import without_uri_secrets\n"
        "random.seed(1)\n"
        "P = [''.join(random.choice(string.ascii_letters) for _ in range(10))"
        " for _ in range(8000)]\n"
        "s = '{\"e\":[' + ','.join('{\"u\":\"https:\\\\/\\\\/u:%s@h%d.example\\\\/\"}'"
        " % (p, i) for i, p in enumerate(P)) + ']}'\n"
        "out = without_uri_secrets(s)\n"
        "assert not any(p in out for p in P[:50])\n"
    )
    took = _timed_child(code, 8.0)
    assert took is not None, "masking 8,000 URLs of compact JSON took over 8 s"


def test_password_holding_a_scheme_and_user_stays_masked() -> None:
    # SQLAlchemy's password is everything to the `@`: `98765432/x://v:<SECRET>`. HEAD
    # shows `postgresql://u:98765432/x://v@h/db` (the 39th pass: `postgresql://u@h/db`).
    head = "98765432"
    out = without_uri_secrets(f"connect failed: postgresql://u:{head}/x://v:{SECRET}@h/db")
    assert SECRET not in out
    assert head not in out, out


def test_escaped_url_with_plain_scheme_in_password_stays_masked() -> None:
    # JSON-escaped URL whose password holds a plain `x://`: HEAD shows the password's
    # middle (`postgresql:\/\/u:***\/<SECRET>x://y@h\/db`); before, it was dropped.
    out = without_uri_secrets(f"postgresql:\\/\\/u:ab\\/{SECRET}x://y@h\\/db")
    assert SECRET not in out, out


def test_str_enum_optuna_study_names_its_plain_folder(tmp_path: Path) -> None:
    optuna = pytest.importorskip("optuna")
    from expflow_git.importers import import_optuna

    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run(
        [sys.executable, "-m", "expflow_git", "init"], cwd=repo, check=True, capture_output=True
    )
    db = tmp_path / "opt.db"
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study = optuna.create_study(study_name="opt-study", storage=f"sqlite:///{db}")
    study.optimize(lambda t: t.suggest_float("lr", 0.1, 0.9), n_trials=1)

    class Study(str, enum.Enum):
        OPT = "opt-study"

    import_optuna(f"sqlite:///{db}", Study.OPT, root=repo, metrics=["accuracy"])
    written = sorted(p.relative_to(repo).as_posix() for p in repo.rglob("*.json"))
    assert not any("Study.OPT" in p for p in written), written
    assert "experiments/opt-study/opt-study-t0000.json" in written, written
