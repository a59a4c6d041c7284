"""README.md's table "What the hooks refuse" says what each hook prints: for every row,
the staged content is produced in a real repository, the hook's own command (its
`entry` in .pre-commit-hooks.yaml, with the files pre-commit would pass) runs, and
one line of its output must be the row's message (`…` stands for any text).

A row is produced by its rule (the word after the location): a row whose rule has
no producer below fails, so a new row cannot go untested."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import PROJECT, ExpRepo, experiment_doc, result_doc, run_cli
from ruamel.yaml import YAML

pytestmark = pytest.mark.usefixtures("isolated_env")

README = PROJECT / "README.md"
HOOKS = PROJECT / ".pre-commit-hooks.yaml"


@dataclass(frozen=True)
class Row:
    """One row of the table: the hook (README's short name) and the message it shows."""

    hook: str
    message: str
    path: str
    line: int  # 0 where the location is a JSON pointer or the file
    column: int
    pointer: str | None
    rule: str

    def pattern(self) -> re.Pattern[str]:
        """The message as a pattern: `…` is any text, everything else literal."""
        return re.compile(".*?".join(re.escape(part) for part in self.message.split("…")))


_LOCATION = re.compile(
    r"(?P<path>[^\s:#]+)(?::(?P<line>\d+):(?P<col>\d+)|#(?P<ptr>[^:\s]*))?: (?P<rule>[a-z0-9-]+): "
)


def readme_rows() -> list[Row]:
    """The table under "What the hooks refuse", read from README.md."""
    text = README.read_text(encoding="utf-8")
    start = text.index("What the hooks refuse")
    table = text[start:].split("\n\n")[1]
    rows = []
    for raw in table.splitlines()[2:]:  # after the header and the |---| line
        cells = [cell.strip() for cell in raw.strip().strip("|").split(" | ")]
        assert len(cells) == 3, raw
        message = cells[2].strip("`")
        found = _LOCATION.match(message)
        assert found is not None, f"no `file[:line:col|#pointer]: rule: ` in {message!r}"
        rows.append(
            Row(
                hook=cells[1],
                message=message,
                path=found["path"],
                line=int(found["line"] or 0),
                column=int(found["col"] or 0),
                pointer=found["ptr"],
                rule=found["rule"],
            )
        )
    return rows


def _key_path(pointer: str | None) -> list[str]:
    return [] if not pointer else pointer.lstrip("/").split("/")


def _study_and_id(path: str) -> tuple[str, str]:
    parts = Path(path).parts
    return parts[-2], Path(path).stem


def _with_experiment(repo: ExpRepo, row: Row) -> None:
    study, exp_id = _study_and_id(row.path)
    repo.write_json(
        f"experiments/{study}/{exp_id}.json", experiment_doc(exp_id, study=study, status="success")
    )


def _at_line_and_column(row: Row, text: str) -> str:
    """`text` placed so that it starts at the row's line and column."""
    return "# notes\n" * (row.line - 1) + " " * (row.column - 1) + text + "\n"


def _pin_assignment(repo: ExpRepo, row: Row) -> list[str]:
    name = row.message.split(": ")[-1].split()[0]  # "EXPFLOW_PIN_HASH assigned a value"
    indent = row.column - 1 - len(f"{name}=")  # the location is the value's, after `NAME=`
    assert indent >= 0, row
    repo.write(row.path, "# notes\n" * (row.line - 1) + " " * indent + f"{name}=hunter2\n")
    return [row.path]


def _pin_sha256(repo: ExpRepo, row: Row) -> list[str]:
    digest = hashlib.sha256(b"4321").hexdigest()
    repo.write(row.path, _at_line_and_column(row, f"{digest} is the approval hash"))
    return [row.path]


def _unknown_metric(repo: ExpRepo, row: Row) -> list[str]:
    _with_experiment(repo, row)
    study, exp_id = _study_and_id(row.path)
    doc = result_doc(exp_id)
    doc["metrics"][_key_path(row.pointer)[-1]] = 1.0
    repo.write_json(row.path, doc)
    return [row.path]


def _invalid_json(repo: ExpRepo, row: Row) -> list[str]:
    _with_experiment(repo, row)
    study, exp_id = _study_and_id(row.path)
    keys = _key_path(row.pointer)
    assert keys[0] == "metrics", row
    metrics = json.dumps(result_doc(exp_id)["metrics"])
    if "NaN is not a JSON number" in row.message:
        metrics = metrics.replace(f'"{keys[1]}": ', f'"{keys[1]}": NaN, "_": ', 1)
    elif duplicate := re.search(r'duplicate key "([^"]+)"', row.message):
        metrics = metrics.replace("{", f'{{"{duplicate[1]}": 1, ', 1)
    elif rounded := re.search(r"number (\S+) would be read as", row.message):
        doc = result_doc(exp_id)
        metrics = metrics.replace(
            f'"{keys[1]}": {json.dumps(doc["metrics"][keys[1]])}', f'"{keys[1]}": {rounded[1]}'
        )
        assert rounded[1] in metrics, metrics
    else:
        pytest.fail(f"no way to produce the invalid-json row {row.message!r}")
    doc = json.dumps({**result_doc(exp_id), "metrics": "@"})
    repo.write(row.path, doc.replace('"@"', metrics))
    return [row.path]


def _result_without_record(repo: ExpRepo, row: Row) -> list[str]:
    _, exp_id = _study_and_id(row.path)
    repo.write_json(row.path, result_doc(exp_id))
    return [row.path]


def _result_for_unsuccessful_run(repo: ExpRepo, row: Row) -> list[str]:
    study, exp_id = _study_and_id(row.path)
    record = f"experiments/{study}/{exp_id}.json"
    repo.write_json(record, experiment_doc(exp_id, study=study, status="failed"))
    repo.write_json(row.path, result_doc(exp_id))
    return [record, row.path]


def _result_rewritten(repo: ExpRepo, row: Row) -> list[str]:
    _with_experiment(repo, row)
    _, exp_id = _study_and_id(row.path)
    repo.write_json(row.path, result_doc(exp_id))
    repo.commit("a committed result")
    repo.write_json(
        row.path,
        result_doc(exp_id, metrics={"seg_total": 99.0, "pde_mean": 1.0, "train_time_min": 1.0}),
    )
    return [row.path]


def _duplicate_result(repo: ExpRepo, row: Row) -> list[str]:
    _, exp_id = _study_and_id(row.path)
    other = re.search(r"also has the result (\S+?);", row.message)
    assert other is not None, row
    _with_experiment(repo, Row(**{**row.__dict__, "path": other[1]}))
    repo.write_json(other[1], result_doc(exp_id))
    repo.commit("the committed result")
    repo.write_json(row.path, result_doc(exp_id))
    return [row.path]


def _record_rewritten(repo: ExpRepo, row: Row) -> list[str]:
    study, exp_id = _study_and_id(row.path)
    repo.write_json(row.path, experiment_doc(exp_id, study=study, status="success"))
    repo.write_json(f"results/{study}/{exp_id}.json", result_doc(exp_id))
    repo.commit("a finished run")
    changed = experiment_doc(exp_id, study=study, status="success")
    changed["params"] = {**changed.get("params", {}), "Args/--sub_step": 99}
    repo.write_json(row.path, changed)
    return [row.path]


def _correction(exp_id: str, blob: str | None = "b" * 40) -> dict[str, object]:
    return {
        "schema": "expflow/correction@1",
        "experiment": exp_id,
        "supersedes": "a" * 40,
        "blob": blob,
        "reason": "re-ran",
        "author": {"name": "A", "email": "a@example.org"},
        "time": "2026-11-20T12:00:00Z",
    }


def _correction_rewritten(repo: ExpRepo, row: Row) -> list[str]:
    exp_id = row.path.split("/")[-2]
    repo.write_json(row.path, _correction(exp_id))
    repo.commit("a committed correction")
    repo.write_json(row.path, {**_correction(exp_id), "reason": "another reason"})
    return [row.path]


def _correction_unmatched(repo: ExpRepo, row: Row) -> list[str]:
    repo.write_json(row.path, _correction(row.path.split("/")[-2]))
    return [row.path]


def _correction_unknown_experiment(repo: ExpRepo, row: Row) -> list[str]:
    repo.write_json(row.path, _correction(row.path.split("/")[-2]))
    return [row.path]


def _append_policy(repo: ExpRepo, text: str) -> None:
    with (repo.path / "expflow.yaml").open("a", encoding="utf-8") as f:
        f.write(text)


def _budget_exceeded(repo: ExpRepo, row: Row) -> list[str]:
    """`count` records of the study, the last staged over a committed budget."""
    if row.pointer == "/budget/max_runs":
        return _runs_total_exceeded(repo, row)
    found = re.search(r"study '([^']+)' has (\d+) runs, over the budget of (\d+)", row.message)
    assert found is not None, row
    study, count, limit = found[1], int(found[2]), int(found[3])
    assert row.path == f"experiments/{study}/exp-001.json", row  # the study's first record
    _append_policy(repo, f"budget: {{max_runs_per_study: {limit}}}\n")
    ids = [f"exp-{n:03d}" for n in range(1, count + 1)]
    for exp_id in ids[:-1]:
        repo.write_json(f"experiments/{study}/{exp_id}.json", experiment_doc(exp_id, study=study))
    repo.commit("the runs the budget allows")
    last = f"experiments/{study}/{ids[-1]}.json"
    repo.write_json(last, experiment_doc(ids[-1], study=study))
    return [last]


def _holdout_budget_exceeded(repo: ExpRepo, row: Row) -> list[str]:
    """`count` results carrying the split in the study, the last staged over the budget."""
    if row.pointer == "/walk_forward/max_evaluations":
        return _holdout_total_exceeded(repo, row)
    found = re.search(
        r"study '([^']+)' has (\d+) result\(s\) carrying the holdout split '([^']+)' in the "
        r"tree, over the budget of (\d+) per study",
        row.message,
    )
    assert found is not None, row
    study, count, split, limit = found[1], int(found[2]), found[3], int(found[4])
    _append_policy(
        repo,
        f"walk_forward: {{metric: seg_total, split: {split}, min_pearson: -1,\n"
        f"               max_evaluations_per_study: {limit}}}\n",
    )
    paths = []
    for n in range(1, count + 1):
        exp_id = f"exp-{n:03d}"
        repo.write_json(f"experiments/{study}/{exp_id}.json", experiment_doc(exp_id, study=study))
        doc = result_doc(exp_id, splits={split: {"seg_total": 50.0}})
        paths.append(f"results/{study}/{exp_id}.json")
        if n == count:
            repo.commit("the looks the budget allows")
        repo.write_json(paths[-1], doc)
    return paths[-1:]


def _runs_total_exceeded(repo: ExpRepo, row: Row) -> list[str]:
    """`count` records, each in a study of its own, the last staged over `max_runs`."""
    found = re.search(
        r"all studies have (\d+) runs in the tree, over the budget of (\d+)", row.message
    )
    assert found is not None, row
    count, limit = int(found[1]), int(found[2])
    _append_policy(repo, f"budget: {{max_runs: {limit}}}\n")
    paths = []
    for n in range(1, count + 1):
        if n == count:
            repo.commit("the runs the budget allows")
        exp_id, study = f"exp-{n:03d}", f"s{n}"
        paths.append(f"experiments/{study}/{exp_id}.json")
        repo.write_json(paths[-1], experiment_doc(exp_id, study=study))
    return paths[-1:]


def _holdout_total_exceeded(repo: ExpRepo, row: Row) -> list[str]:
    """`count` results carrying the split, each run in a study of its own, the last staged
    over `max_evaluations`."""
    found = re.search(
        r"all studies have (\d+) result\(s\) carrying the holdout split '([^']+)' in the "
        r"tree, over the budget of (\d+) in all studies",
        row.message,
    )
    assert found is not None, row
    count, split, limit = int(found[1]), found[2], int(found[3])
    _append_policy(
        repo,
        f"walk_forward: {{metric: seg_total, split: {split}, min_pearson: -1,\n"
        f"               max_evaluations: {limit}}}\n",
    )
    paths = []
    for n in range(1, count + 1):
        exp_id, study = f"exp-{n:03d}", f"s{n}"
        repo.write_json(f"experiments/{study}/{exp_id}.json", experiment_doc(exp_id, study=study))
        doc = result_doc(exp_id, splits={split: {"seg_total": 50.0}})
        paths.append(f"results/{study}/{exp_id}.json")
        if n == count:
            repo.commit("the looks the budget allows")
        repo.write_json(paths[-1], doc)
    return paths[-1:]


# The rule a row names -> how to stage what makes the hook print it (the files staged).
PRODUCERS: dict[str, Callable[[ExpRepo, Row], list[str]]] = {
    "pin-assignment": _pin_assignment,
    "pin-sha256": _pin_sha256,
    "unknown-metric": _unknown_metric,
    "invalid-json": _invalid_json,
    "result-without-record": _result_without_record,
    "result-for-unsuccessful-run": _result_for_unsuccessful_run,
    "result-rewritten": _result_rewritten,
    "duplicate-result": _duplicate_result,
    "record-rewritten": _record_rewritten,
    "correction-rewritten": _correction_rewritten,
    "correction-unmatched": _correction_unmatched,
    "correction-unknown-experiment": _correction_unknown_experiment,
    "budget-exceeded": _budget_exceeded,
    "holdout-budget-exceeded": _holdout_budget_exceeded,
}


def _hook(name: str) -> dict[str, object]:
    hooks = YAML(typ="safe").load(HOOKS.read_text(encoding="utf-8"))
    found = [hook for hook in hooks if hook["id"] == f"expflow-{name}"]
    assert len(found) == 1, f"README names hook {name!r}; .pre-commit-hooks.yaml has no such id"
    return dict(found[0])


ROWS = readme_rows()


def test_the_table_is_there() -> None:
    assert len(ROWS) >= 7, ROWS
    assert {row.hook for row in ROWS} == {"no-pin-hash", "validate", "protect-results"}


@pytest.mark.parametrize("row", ROWS, ids=[row.message[:40] for row in ROWS])
def test_each_row_is_what_the_hook_prints(committed_repo: ExpRepo, row: Row) -> None:
    producer = PRODUCERS.get(row.rule)
    if producer is None:
        pytest.fail(f"README row for rule {row.rule!r} has no producer in {__file__}; add one")
    staged = producer(committed_repo, row)
    committed_repo.stage()
    hook = _hook(row.hook)
    entry = str(hook["entry"]).split()
    assert entry[0] == "expflow-git", entry
    files = []
    if hook.get("pass_filenames", True):
        files = [f for f in staged if re.search(str(hook.get("files", "")), f)]
        assert files, (hook, staged)
    code, out, err = run_cli([*entry[1:], *files], cwd=committed_repo.path)
    assert code == 1, out + err
    lines = out.splitlines()
    assert any(row.pattern().fullmatch(line) for line in lines), (row.message, lines)
