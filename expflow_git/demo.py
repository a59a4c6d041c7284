"""`demo`: a throw-away competition repository, committed, audited, signed and verified.

The example is the seed competition (seg_total ranked; pde_mean < 18.09,
train_time_min < 60, sub_step > 0), with runs chosen so that the best score
overall (best_any) is not the best run that obeys every rule (best_feasible).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from expflow_git.atomicfile import write_atomic
from expflow_git.errors import ExpflowError, printable, utf8_argument
from expflow_git.gitstore import first_line
from expflow_git.records.scaffold import COMPETITION_POLICY

DEMO_POLICY = COMPETITION_POLICY + (
    "walk_forward: {metric: seg_total, split: holdout, top_n: 10, min_pearson: 0.3}\n"
    "budget: {max_runs_per_study: 50}\n"
)
STUDY = "pdebench-task1"
# id: (sub_step, seg_total, pde_mean, train_time_min, holdout seg_total, note)
RUNS = {
    "exp-001": (5, 57.09, 15.0, 45.5, 55.2, "FNO baseline, 5 sub-steps"),
    "exp-002": (3, 61.40, 19.7, 52.0, 58.9, "bigger FNO: best score, breaks the PDE threshold"),
    "exp-003": (0, 59.80, 16.1, 38.0, 57.0, "no sub-steps: breaks the sub_step > 0 rule"),
    "exp-004": (4, 55.30, 14.2, 72.0, 53.8, "long training: breaks the 60-minute threshold"),
    "exp-005": (8, 56.20, 17.5, 58.9, 54.1, "8 sub-steps"),
    "exp-006": (2, 53.90, 12.8, 30.2, 52.6, "small FNO"),
    "exp-007": (6, 52.40, 16.9, 41.0, 50.3, "UNet baseline"),
}
# Fixed dates make the demo's commit, and so its report, the same on every machine.
DATE = "2026-11-20T10:00:00+00:00"


def _git(root: Path, *args: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(
        GIT_AUTHOR_DATE=DATE,
        GIT_COMMITTER_DATE=DATE,
        GIT_AUTHOR_NAME="expflow demo",
        GIT_AUTHOR_EMAIL="demo@example.invalid",
        GIT_COMMITTER_NAME="expflow demo",
        GIT_COMMITTER_EMAIL="demo@example.invalid",
    )
    # The user's configuration must not make another commit, nor stop it (a hunt, issue 18
    # fortieth pass): their hooks for every repository (`core.hooksPath`, or a template's)
    # ran, a refusal was a traceback and an edited message another commit, and so was a
    # commit encoding (`encoding latin1` in its header).
    proc = subprocess.run(
        [
            "git",
            "-c",
            "commit.gpgsign=false",
            "-c",
            "init.defaultBranch=main",
            "-c",
            f"core.hooksPath={os.devnull}",
            "-c",
            "i18n.commitEncoding=UTF-8",
            *args,
        ],
        cwd=root,
        env=env,
        check=False,
        capture_output=True,
    )
    if proc.returncode != 0:
        detail = first_line(proc.stderr) or f"exited with status {proc.returncode}"
        raise ExpflowError(f"git {args[0]}: {detail}")


def build_repo(root: Path) -> None:
    """Write and commit the example repository at `root`."""
    write_atomic(root / "expflow.yaml", DEMO_POLICY.encode())
    for exp_id, (sub_step, seg, pde, minutes, holdout, title) in RUNS.items():
        record = {
            "schema": "expflow/experiment@1",
            "id": exp_id,
            "study": STUDY,
            "title": title,
            "created_at": "2026-11-20T09:00:00Z",
            "tags": ["task1", "demo"],
            "status": "success",
            "seed": 1837261 + int(exp_id[-3:]),
            "params": {"Args/--sub_step": sub_step, "lr": 0.001},
        }
        result = {
            "schema": "expflow/result@1",
            "experiment": exp_id,
            "recorded_at": "2026-11-20T10:00:00Z",
            "metrics": {"seg_total": seg, "pde_mean": pde, "train_time_min": minutes},
            "splits": {"holdout": {"seg_total": holdout}},
        }
        for kind, doc in (("experiments", record), ("results", result)):
            write_atomic(
                root / kind / STUDY / f"{exp_id}.json", (json.dumps(doc, indent=2) + "\n").encode()
            )
    _git(root, "init", "-q")
    # (--force: a global ignore file naming results/ left every result out)
    _git(root, "add", "--force", "-A")
    _git(root, "commit", "-q", "-m", "Demo competition: seven runs")


def run_demo(directory: Path | None, *, echo: Callable[[str], None]) -> int:
    """Build, audit, sign, verify; print the leaderboard. Returns the exit code."""
    # Absolute: the steps run inside the repository (a relative --dir put the private
    # key, the report and the scorecard in its work tree).
    base = (directory or Path(tempfile.mkdtemp(prefix="expflow-demo-"))).absolute()
    # (the steps' output is read as UTF-8 text, and names the folder: a traceback; a review)
    utf8_argument(str(base), "--dir")
    repo = base / "repo"
    key = base / "demo-key"
    report = base / "report.json"
    html = base / "scorecard.html"
    for path in (repo, key, Path(f"{key}.pub"), report, html):
        if os.path.lexists(path):  # never written over: they may be the user's
            # A usage error, on stderr as every other is: it was printed on stdout, the
            # demo's transcript, which no step had begun (a hunter's find, issue 18
            # thirty-seventh pass).
            raise ExpflowError(f"{printable(str(path))} exists already; choose another --dir")
    repo.mkdir(parents=True)
    build_repo(repo)
    cli = [sys.executable, "-m", "expflow_git"]

    def step(title: str, args: list[str]) -> int:
        echo(f"\n$ expflow-git {' '.join(args)}")
        proc = subprocess.run([*cli, *args], cwd=repo, capture_output=True, text=True)
        echo((proc.stdout + proc.stderr).rstrip())
        return proc.returncode

    echo(f"expflow-git demo: example repository at {repo}")
    steps = [
        ("key", ["keygen", "--out", str(key)]),
        ("rank", ["rank"]),
        ("audit", ["audit", "--out", str(report), "--sign-key", str(key), "--html", str(html)]),
        ("verify", ["verify", str(report), "--public-key", f"{key}.pub", "--repo", "."]),
    ]
    for title, args in steps:
        code = step(title, args)
        if code != 0:
            echo(f"\nexpflow-git demo: step `{title}` exited {code}")
            return code
    echo(
        f"\nfiles: repository {repo}\n       report     {report}\n       scorecard  {html}\n"
        f"       keys       {key} (private, throw-away), {key}.pub"
    )
    return 0
