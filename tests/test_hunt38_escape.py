"""Repository strings where they reach an output: an attacker's hunt, issue 18
thirty-eighth pass (docs/decisions.md).

Real git repositories in tmp dirs and the real CLI as a subprocess (with a pty as stdin
where the PIN prompt is the output under test).
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from helpers_audit import (
    add_run,
    clean_env,
    commit_all,
    experiment,
    m,
    new_repo,
    result,
    write,
    write_json,
)
from helpers_audit import run_cli as cli
from support import on_a_terminal

from expflow_git.pin.store import hash_pin, save_hash

PIN = str(4000 + 821)
STUDY = "pdebench-task1"


def _on_a_terminal(repo: Path, args: list[str], env: dict[str, str], typed: str) -> tuple[int, str]:
    """The CLI with a pty as stdin (support.on_a_terminal): (exit code, stderr)."""
    code, _, err = on_a_terminal(repo, args, env, typed)
    return code, err


def test_pin_prompt_escapes_the_committed_path_it_names(tmp_path: Path) -> None:
    """`result ID --overwrite` asks for the PIN naming the committed result it replaces,
    whose folder a pull request may have named (git takes any byte but NUL and `/`). The
    prompt was the one line the guard printed raw (`click.prompt` with the text only
    masked): a line break forged a second line under it, a bidi override reordered what
    is being approved, and on a terminal an ESC sequence could rewrite it. It is escaped
    as every status line is (`\\x0a`, `\\u202e`), and the PIN it approves is the same."""
    repo = new_repo(tmp_path / "repo")
    add_run(repo, "a1", None)
    folder = "x\nPIN to approve nothing \u202eevil"
    write(repo, f"results/{folder}/a1.json", json.dumps(result("a1", m(50.0))))
    commit_all(repo)
    home = tmp_path / "expflow-home"
    save_hash(home, hash_pin(PIN))
    env = clean_env({"EXPFLOW_HOME": str(home)})
    metrics = ["--metric", "seg_total=51", "--metric", "pde_mean=15"]
    args = ["result", "a1", *metrics, "--metric", "train_time_min=45"]
    code, err = _on_a_terminal(repo, [*args, "--overwrite", "--reason", "fix"], env, PIN + "\n")
    assert code == 0, err
    prompt = next(line for line in err.splitlines() if line.startswith("PIN to approve"))
    assert "\u202e" not in err, err
    assert prompt.startswith(
        "PIN to approve overwrite results/x\\x0aPIN to approve nothing \\u202eevil/a1.json"
    ), err
    assert sum(line.startswith("PIN to approve") for line in err.splitlines()) == 1, err


def test_list_csv_writes_a_reason_as_every_csv_of_runs_writes_text(tmp_path: Path) -> None:
    """`list --format csv`'s reason column was written as it is: a failed run's reason
    `N/A`, `null` or ` 1e5` read as no value or a number in pandas (docs/spec.md: every
    CSV of runs writes text "as a CSV reader takes it", JSON-quoting what would read as
    something else), and a reason holding a variation selector (`café` + U+FE0F) was the
    same cell as one holding the text `café\\ufe0f`. The column now writes each reason as
    a `--columns` text field is written (`render.table.csv_value`); no reason is an empty
    cell, as before."""
    repo = new_repo(tmp_path / "repo")
    add_run(repo, "a1", m(50.0))
    reasons = ["N/A", "null", " 1e5", "caf\u00e9\ufe0f", "caf\u00e9\\ufe0f", "=1+1", "OOM"]
    for i, reason in enumerate(reasons):
        doc = experiment(f"f{i}", status="failed")
        doc["reason"] = reason
        write_json(repo, f"experiments/{STUDY}/f{i}.json", doc)
    commit_all(repo)
    res = cli(["list", "--format", "csv"], repo)
    assert res.code == 0, res
    rows = {row["id"]: row["reason"] for row in csv.DictReader(io.StringIO(res.out))}
    assert rows["a1"] == ""
    cells = [rows[f"f{i}"] for i in range(len(reasons))]
    assert cells[:3] == ['"N/A"', '"null"', '" 1e5"'], cells
    assert json.loads(cells[3]) == "caf\u00e9\ufe0f", cells  # JSON-quoted: the same text
    assert cells[4] == "caf\u00e9\\ufe0f", cells  # the literal text, as it is: another cell
    assert cells[5:] == ["'=1+1", "OOM"], cells
