"""Small gaps the fortieth pass noticed and left (issue 18, forty-first pass), each a test
that failed on the code before:

- a literal compared in a `${{ }}` expression (`inputs.pin != 'NNNN' && secrets.X`) after
  `--pin` or `EXPFLOW_PIN:` was taken for the PIN given (a false finding);
- a Kubernetes/ECS `value` key with a comment or blank line between it and its `name:`
  entry, or a GitLab `value` child below a comment line, was not read (a miss);
- a continuation line `set \\` (or `set -x NAME V`) of another command was read as a
  statement of its own (a false finding);
- `run.log` could not log a metric named `step` (`run.log(step=3)` dropped it without a
  word) nor `self`, and `run.log_split` one named `name` or `self`.

Every secret here is made at run time, so this file holds nothing a scanner would flag.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from conftest import ExpRepo, assert_clean_output, run_cli
from test_hunt40_scan import FLAG, KEY, PIN, assert_refused_masked

import expflow_git
from expflow_git.pinscan.scanner import scan_bytes

pytestmark = pytest.mark.usefixtures("isolated_env")

OPEN, CLOSE = "${{", "}}"
STUDY = "pdebench-task1"
SEED = {"seg_total": 57.09, "pde_mean": 15.0, "train_time_min": 45.5}


def _found(path: str, text: str) -> list[tuple[str, int, int]]:
    return [(f.rule, f.line, f.col) for f in scan_bytes(path, text.encode())]


# ------------------------------------------------------------------ compared literals
def test_a_compared_literal_is_no_pin_a_fallback_still_is() -> None:
    """Spec §5 reads "a quoted string in a `${{ }}` … template, a fallback `|| 'NNNN'`" as
    the value. A literal compared (`!=`, `==`, `<`, …) only tests the input: the
    expression's value is the secret or a boolean, never the literal. It was a
    `pin-value` after `--pin` and a `pin-assignment` after `EXPFLOW_PIN:`."""
    wf = ".github/workflows/ci.yml"
    for expr in (
        f"{OPEN} inputs.pin != '{PIN}' && secrets.X {CLOSE}",
        f"{OPEN} inputs.pin == '{PIN}' && secrets.X || '' {CLOSE}",
        f"{OPEN} '{PIN}' != inputs.pin && secrets.X {CLOSE}",
        f"{OPEN} github.run_number >= '{PIN}' && secrets.X {CLOSE}",
        f'{OPEN} inputs.pin!="{PIN}" && secrets.X {CLOSE}',
    ):
        assert _found(wf, f"      - run: expflow-git rm e1 {FLAG} {expr}\n") == [], expr
        assert _found(wf, f"    {KEY}: {expr}\n") == [], expr
    # The value an expression can yield stays the PIN given, a comparison before it or not.
    line = f"run: x {FLAG} {OPEN} inputs.pin != '{PIN}' && secrets.X || '{PIN}' {CLOSE}\n"
    assert _found(wf, line) == [("pin-value", 1, 56)]
    line = f"run: x {FLAG} {OPEN} inputs.pin == '' && '{PIN}' || secrets.X {CLOSE}\n"
    assert _found(wf, line) == [("pin-value", 1, 39)]
    line = f"    {KEY}: {OPEN} secrets.X || '{PIN}' {CLOSE}\n"
    assert _found(wf, line) == [("pin-assignment", 1, 36)]


# ------------------------------------------------------------------ comment lines between
BETWEEN = [
    ("k8s.yaml", f'env:\n  - name: {KEY}\n    # from the vault\n    value: "{PIN}"\n', 4, 13),
    ("blank.yaml", f'env:\n  - name: {KEY}\n\n    # a\n    # b\n    value: "{PIN}"\n', 6, 13),
    ("crlf.yaml", f'env:\r\n  - name: {KEY}\r\n    # c\r\n    value: "{PIN}"\r\n', 4, 13),
    ("value-first.yaml", f'env:\n  - value: "{PIN}"\n    # c\n\n    name: {KEY}\n', 2, 13),
    ("gitlab-ci.yml", f'variables:\n  {KEY}:\n    # the PIN\n    value: "{PIN}"\n', 4, 13),
]


@pytest.mark.parametrize(("name", "text", "line", "col"), BETWEEN, ids=[n for n, *_ in BETWEEN])
def test_a_value_key_past_comment_lines_is_read(name: str, text: str, line: int, col: int) -> None:
    """A YAML mapping's keys may have comment and blank lines between them; `- name:
    EXPFLOW_PIN`, a comment, then `value: "NNNN"` passed the scan ("Not read", fortieth
    pass), which an author could use for any such file."""
    assert _found(name, text) == [("pin-assignment", line, col)]


@pytest.mark.parametrize(
    "text",
    [
        f'env:\n  - name: {KEY}\n    # c\n  - value: "{PIN}"\n',  # another item's
        f'env:\n  - name: {KEY}\n    # c\n    x:\n      value: "{PIN}"\n',  # deeper
        f"env:\n  - name: {KEY}\n    # c\n    value: $(PIN)\n",  # a reference
        f'env:\n  - value: "{PIN}"\n  # c\n  - name: {KEY}\n',  # another item's
    ],
    ids=["other-item", "deeper", "reference", "value-other-item"],
)
def test_the_nearest_innocent_text_past_comments_stays_clean(text: str) -> None:
    assert _found("k8s.yaml", text) == []


# ------------------------------------------------------------------ continuation lines
@pytest.mark.parametrize(
    "text",
    [
        f"echo a \\\nset \\\n{KEY} {PIN}\n",
        f"echo a \\\nset -x {KEY} {PIN}\n",
        f"echo a \\\r\nset -gx {KEY} {PIN}\r\n",
        f"echo a \\\nsetenv {KEY} {PIN}\n",
    ],
    ids=["set-alone", "set-x", "set-gx-crlf", "setenv"],
)
def test_a_continued_line_begins_no_statement(text: str) -> None:
    """Spec §5: fish's `set -x NAME value` "where a statement begins"; a line continuing
    the one before (`echo a \\`) is that command's arguments, `echo a set -x NAME V`: no
    assignment (noticed by the fortieth pass, a false finding)."""
    assert _found("config.fish", text) == [], text


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("config.fish", f"set \\\n{KEY} {PIN}\n"),  # `set` begins its statement
        ("config.fish", f"set -gx \\\n  {KEY} \\\n  {PIN}\n"),
        ("config.fish", f"echo a \\\n  x; set -x {KEY} {PIN}\n"),  # after an operator
        ("config.fish", f"# note \\\nset -x {KEY} {PIN}\n"),  # a comment continues nothing
        ("config.fish", f"echo a # b \\\nset -x {KEY} {PIN}\n"),
        ("config.fish", f"echo a \\\\\nset -x {KEY} {PIN}\n"),  # an escaped backslash
        ("Dockerfile", f"# escape=`\nWORKDIR C:\\app\\\nENV {KEY} {PIN}\n"),
        ("setup.bat", f"cd C:\\tools\\\nsetx {KEY} {PIN}\n"),  # cmd has no `\\` continuation
    ],
    ids=[
        "set-first",
        "set-gx",
        "operator",
        "comment",
        "trailing-comment",
        "escaped",
        "docker-escape",
        "setx",
    ],
)
def test_a_statement_after_a_line_ending_in_a_backslash_is_still_read(name: str, text: str) -> None:
    assert [rule for rule, *_ in _found(name, text)] == ["pin-assignment"], text


def test_the_real_cli_reads_them(exp_repo: ExpRepo) -> None:
    """`scan` refuses the comment-separated forms (exit 1, each named, the PIN masked) and
    passes the compared literal and the continued `set` line (exit 0)."""
    assert_refused_masked(exp_repo, {f"leaks/{name}": text for name, text, *_ in BETWEEN})
    clean = {
        "ok/ci.yml": f"run: x {FLAG} {OPEN} inputs.pin != '{PIN}' && secrets.X {CLOSE}\n",
        "ok/config.fish": f"echo a \\\nset -x {KEY} {PIN}\n",
    }
    for path, text in clean.items():
        exp_repo.write(path, text)
    code, out, err = run_cli(["scan", *clean], cwd=exp_repo.path)
    assert_clean_output(out, err)
    assert code == 0, (out, err)


LINEAR_SHAPES: list[tuple[str, Callable[[int], str], int]] = [
    # (name, the text of n units, the findings in it per unit)
    ("comments-after", lambda n: (f"  - name: {KEY}\n" + "    # x\n" * 8 + "  x\n") * n, 0),
    ("names-in-comments", lambda n: f"- name: {KEY}\n" + f"#name: {KEY}\n" * (9 * n), 0),
    ("long-comments", lambda n: (f"  - name: {KEY}\n    #" + "x" * 300 + "\n") * (4 * n), 0),
    ("blank-lines", lambda n: (f"  - name: {KEY}\n" + (" " * 100 + "\n") * 8 + "x\n") * n, 0),
    (
        "comments-before",
        lambda n: ("  - value: 1\n" + "    # c\n" * 8 + f"    name: {KEY}\n") * n,
        1,
    ),
    ("child-comments", lambda n: (f"{KEY}:\n" + "  # c\n" * 8 + "  valu: 1\n") * n, 0),
    ("compared", lambda n: f"{FLAG} {OPEN} " + "'1234' == " * (40 * n) + f"{CLOSE}\n", 0),
    ("compared-blanks", lambda n: f"{FLAG} {OPEN} " + ("'1' " + " " * 50) * (4 * n) + CLOSE, 0),
    ("continued-and", lambda n: ("x \\\n" + "and \\\n" * 40 + f"set {KEY} 1\n") * n, 0),
    ("continued-set", lambda n: ("echo \\\n" + "set \\\n" * 40 + f"{KEY} 1\n") * n, 0),
    ("continued-dense", lambda n: f"x \\\nset {KEY} \\\n" * (10 * n), 0),
]


@pytest.mark.parametrize(
    ("name", "make", "per_unit"), LINEAR_SHAPES, ids=[n for n, _, _ in LINEAR_SHAPES]
)
def test_the_changed_rules_read_hostile_text_whole(
    name: str, make: Callable[[int], str], per_unit: int
) -> None:
    """Shapes built to make the changed rules re-read text, 2,000 units of each (0.2 to
    2.6 MB), are scanned to their end with the findings each unit holds. No timing
    assertion (as tests/test_scan_dos.py): measured in a scratch script, ten times the
    text took six to sixteen times as long (0.1 to 0.4 s at 2,000 units); a quadratic
    rule would not finish this test."""
    assert len(scan_bytes("x.fish", make(2000).encode())) == 2000 * per_unit, name


# ------------------------------------------------------------------ the Python API
def _with_metrics(repo: ExpRepo, *names: str) -> None:
    """The registry also holds `names` (valid metric names: `^[A-Za-z_][A-Za-z0-9_.-]*$`)."""
    policy = (repo.path / "expflow.yaml").read_text()
    extra = "".join(
        f"  {n}: {{group: Loss, higher_is_better: false, type: scalar}}\n" for n in names
    )
    (repo.path / "expflow.yaml").write_text(policy.replace("metrics:\n", "metrics:\n" + extra, 1))


def test_a_metric_named_step_self_or_name_can_be_logged(committed_repo: ExpRepo) -> None:
    """docs/api.md: `log` records "metrics of the run (names from the policy's registry)";
    the registry takes `step`, `self` and `name`, but `run.log(step=3.0)` was the step of
    no metric (a ValueError for a float; an int dropped without a word) and `run.log(self=
    1.0)` and `run.log_split("holdout", name=1.0)` were TypeErrors. A mapping is taken as
    MLflow's `log_metrics(metrics, step)` takes one."""
    _with_metrics(committed_repo, "step", "self", "name")
    repo = expflow_git.Repository(committed_repo.path)
    with repo.run("exp-001", study=STUDY, params={"sub_step": 5}) as run:
        run.log({"step": 3.0}, step=2, **SEED)
        run.log(self=1.0, name=2.0)
        run.log_split("holdout", {"step": 1.0}, name=2.0, self=3.0)
    got = repo.get("exp-001")
    assert got.metrics == {**SEED, "step": 3.0, "self": 1.0, "name": 2.0}
    assert got.splits == {"holdout": {"step": 1.0, "name": 2.0, "self": 3.0}}


def test_the_step_of_no_metric_is_refused_where_step_is_a_metric(
    committed_repo: ExpRepo,
) -> None:
    """`run.log(step=3)` with a registry metric `step` meant the metric: the value was
    lost, the run `success` without it. Now a ValueError saying how to log it; a name
    given twice or a positional that is no mapping is one too. Without such a metric
    `run.log(step=N)` alone is what it was (nothing logged)."""
    repo = expflow_git.Repository(committed_repo.path)
    with repo.run("exp-002", study=STUDY, params={"sub_step": 5}) as run:
        run.log(step=3)  # (no metric `step` in the registry: as before)
        with pytest.raises(ValueError, match=r"metric 'seg_total': given twice"):
            run.log({"seg_total": 1.0}, seg_total=2.0)
        with pytest.raises(ValueError, match=r"step is given as step=N"):
            run.log(3, seg_total=1.0)  # type: ignore[arg-type]
        run.log(**SEED)
    _with_metrics(committed_repo, "step")
    repo = expflow_git.Repository(committed_repo.path)
    with repo.run("exp-003", study=STUDY, params={"sub_step": 5}) as run:
        with pytest.raises(ValueError, match=r"run\.log\(\{'step': value\}\)"):
            run.log(step=3)
        run.log(**SEED)
    assert "step" not in repo.get("exp-003").metrics
