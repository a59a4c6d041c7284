"""A PIN typed as an argument never reaches an error or a warning (docs/decisions.md: "a
refused argument is quoted with what would be a PIN masked", "an id quoted by an error
is masked as `new` masks one"). A refused argument is quoted in pieces, inside a path or
a revision, where the masking of the argument as one text does not fire: every error and
warning the CLI prints is masked against the command line in one place
(`cli/console.masked`, `errors.masked_output`), and a finding's path name by name
(`Finding.location`). A review, issue 18 twenty-fifth pass."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import IDENTITY, git, run_cli

from expflow_git.errors import Finding

PIN = str(4000 + 821)  # never a literal in a file: the repository's own scan reads it


@pytest.fixture(scope="module")
def demo_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("demo") / "here"
    res = run_cli(["demo", "--dir", str(base)], base.parent)
    assert res.code == 0, res
    (base / "runs.csv").write_text("run,seg_total\nr1,1\n")
    return base / "repo"


CSV = ["import", "csv", "../runs.csv", "--id-column", "run", "--study", "s"]

# (the command line, its exit code, what its one line still says)
ROWS = [
    (["result", "exp-001", "--metric", f"seg_total=--pin {PIN}"], 2, "is not a number"),
    (["result", "exp-001", f"--metric=seg_total=--pin {PIN}"], 2, "is not a number"),
    (["rank", "--gate", f"seg_total:lt:--pin {PIN}"], 2, "is not a number"),
    (["new", f"pin={PIN}", "--study", "s"], 2, "experiments/s/pin=****.json#/id: schema"),
    (["new", "w-z", "--study", f"x --pin {PIN}"], 2, "#/study: schema"),
    (["list", "--study", f"pin={PIN}"], 0, "no run in study 'pin=****'"),
    (["rank", "--study", f"pin={PIN}"], 1, "no run in study 'pin=****'"),
    (["audit", "--since", f"pin={PIN}"], 2, "--since pin=****: unknown revision"),
    (["audit", "--rev", f"pin={PIN}"], 2, "unknown revision"),
    (["audit", "--policy-ref", f"pin={PIN}"], 2, "--policy-ref pin=****: unknown revision"),
    (["diff", f"pin={PIN}"], 2, "unknown revision"),
    (["show", "--rev", f"pin={PIN}", "exp-001"], 2, "unknown revision"),
    ([*CSV, "--metric-columns", f"pin:{PIN}/seg_total"], 2, "'pin:****/seg_total': no such"),
    ([*CSV, "--id-column", f"pin {PIN}"], 2, "'pin ****': no such column"),
    # The word typed after `--pin` is the PIN wherever it lands: another option's value
    # or an argument took it (a hunter's find, issue 18 thirty-sixth pass; `--pin=` a
    # review's): tests/test_hunt36_pin_option_value.py.
    (["rm", "--reason", "--pin", PIN], 1, "no experiment record '****'"),
    (["cancel", "--reason", "--pin", PIN], 1, "no experiment record '****'"),
    (["rm", "--reason=--pin", PIN], 1, "no experiment record '****'"),
    (["rm", "--reason", "--pin=", PIN], 1, "no experiment record '****'"),
    (
        ["import", "csv", "--correct", "--pin", PIN, "--id-column", "id", "--study", "s"],
        2,
        "****: No such file or directory",
    ),
]


@pytest.mark.parametrize(
    ("args", "code", "says"), ROWS, ids=[f"{r[0][0]}-{i}" for i, r in enumerate(ROWS)]
)
def test_a_pin_typed_as_an_argument_is_masked_wherever_quoted(
    demo_repo: Path, args: list[str], code: int, says: str
) -> None:
    res = run_cli(args, demo_repo)
    assert res.code == code, res
    assert says in res.err, res.err
    assert PIN not in res.out and PIN not in res.err, res


def test_a_line_quoting_no_pin_is_left_as_it_is(demo_repo: Path) -> None:
    res = run_cli(["audit", "--since", "nothere"], demo_repo)
    assert res.code == 2
    assert res.err == "expflow-git: error: --since nothere: unknown revision 'nothere'\n"
    from expflow_git.errors import masked_output

    # Four digits the command line does not give as a PIN stay, as does a date.
    line = "budget: 1000 runs since 2024-01-01 in 'x --pin ****'"
    for typed in ([], ["rank", "--top", "5"], ["rank", "--since", "2024-01-01"]):
        assert masked_output(line, typed) == line
    # A four-digit count, seed or metric typed is no PIN: masking it wherever the line
    # held it garbled a commit id (4f77db8182f0) and counts (a review).
    assert masked_output("seed 1000, 2024", ["--seed", "1000"]) == "seed 1000, 2024"
    ref = "no policy file at --policy-ref nopol (4f77db8182f0), 8182 runs"
    assert masked_output(ref, ["rank", "--policy-ref", "nopol", "--top", "8182"]) == ref
    typed = ["result", "e", "--metric", "epochs=1000"]
    assert masked_output("run-1000.json: 1000 runs", typed) == "run-1000.json: 1000 runs"
    # Beside a PIN typed, a hex id sharing its digits is left whole too.
    typed = ["audit", "--since", f"pin={PIN}"]
    assert masked_output(f"pin={PIN} (ab{PIN}cd)", typed) == f"pin=**** (ab{PIN}cd)"


def test_a_findings_path_is_masked_name_by_name() -> None:
    finding = Finding(f"experiments/s/pin={PIN}.json", "schema", "bad", pointer="/id")
    assert finding.location() == "experiments/s/pin=****.json#/id"
    assert Finding(f"experiments/s/run-{PIN}.json", "r", "m").location().endswith(PIN + ".json")


def test_verify_report_and_keygen_mask_a_pin_in_the_paths_they_print(
    demo_repo: Path, tmp_path: Path
) -> None:
    """`verify`'s verdict line (read in CI logs), `report`'s failed lines and `wrote`,
    and `keygen`'s `wrote` printed a path typed with a PIN in it (a review)."""
    named = tmp_path / f"pin={PIN}.json"
    assert run_cli(["audit", "--out", str(named)], demo_repo).code == 0
    res = run_cli(["verify", str(named), "--allow-unsigned"], demo_repo)
    assert res.code == 0 and res.out.endswith("pin=****.json: VERIFIED\n"), res
    html = tmp_path / f"pin={PIN}.html"
    res = run_cli(["report", str(named), "--html", str(html)], demo_repo)
    assert res.code == 0 and "wrote " in res.err and html.exists(), res
    res = run_cli(["keygen", "--out", str(tmp_path / f"pin={PIN}")], demo_repo)
    assert res.code == 0 and "pin=**** (private, mode 0600)" in res.out, res
    assert PIN not in res.out + res.err, res
    for args in (
        ["verify", str(named), "--allow-unsigned"],
        ["report", str(named), "--html", str(html)],
    ):
        res = run_cli(args, demo_repo)
        assert res.code == 0 and PIN not in res.out + res.err, res


@pytest.fixture
def pinned(demo_repo: Path, tmp_path: Path) -> Path:
    """A clone of the demo whose policy is also committed at `pin=NNNN/expflow.yaml`, with
    a tag so named, and a CSV file so named beside it."""
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(demo_repo), str(clone))
    (clone / f"pin={PIN}").mkdir()
    (clone / f"pin={PIN}" / "expflow.yaml").write_bytes((clone / "expflow.yaml").read_bytes())
    git(clone, "add", "-A")
    git(clone, "commit", "-q", "-m", "policy in a folder", env=IDENTITY)
    git(clone, "tag", f"pin={PIN}", "HEAD~1")
    columns = "run,seg_total,pde_mean,train_time_min\nr1,1,1,1\n"
    (tmp_path / f"pin={PIN}.csv").write_text(columns)
    return clone


def test_every_line_quoting_a_path_typed_with_a_pin_masks_it(pinned: Path, tmp_path: Path) -> None:
    """Every status line a command prints masks a PIN typed in a path or a name, in one
    place (`console.out`/`err`), and the terminal's formats of a report or a table mask
    it in a line quoting the argument (`console.for_terminal`): the audit's `written to`
    line and its text's `policy PATH`, the import's `imported:` and `dry run` lines,
    `init`'s `created` lines, the diff's header, and every line `demo` prints printed it
    (a review, issue 18 twenty-sixth pass)."""
    named = tmp_path / f"pin={PIN}"
    csv = ["import", "csv", str(tmp_path / f"pin={PIN}.csv"), "--id-column", "run"]
    runs = [
        (["audit", "--out", f"{named}.json"], "written to "),
        (["audit", "--policy", f"pin={PIN}/expflow.yaml"], "policy pin=****/expflow.yaml"),
        (["audit", "--policy", f"{pinned}/pin={PIN}/expflow.yaml"], "policy pin=****/"),
        (["audit", "--policy", f"pin={PIN}/expflow.yaml", "--format", "github"], "pin=****/"),
        (["rank", "--policy", f"pin={PIN}/expflow.yaml"], "best_feasible"),
        (["report", f"{named}.json"], "expflow-git audit of commit"),
        ([*csv, "--study", "imp", "--dry-run"], "dry run, nothing written: csv 'pin=****.csv'"),
        ([*csv, "--study", "imp"], "imported: csv 'pin=****.csv'"),
        (["diff", f"pin={PIN}"], "no metric changed between pin=**** and HEAD"),
        (["diff", f"pin={PIN}", "--all"], "pin=****  HEAD"),
        (["init", str(named / "new")], "created "),
        (["demo", "--dir", str(named / "demo")], "demo: example repository at "),
    ]
    for args, says in runs:
        res = run_cli(args, pinned)
        assert res.code == 0, (args, res)
        assert says in res.out + res.err, (args, res)
        assert PIN not in res.out + res.err, (args, res)
    assert (named / "new" / "expflow.yaml").exists()


def test_a_report_masks_only_the_lines_quoting_the_argument() -> None:
    """A value of the repository's sharing the PIN's digits, in a line that does not quote
    the argument, is the product: left as it is; JSON is never passed through."""
    from expflow_git.errors import masked_quoting

    typed = ["audit", "--policy", f"/repo/pin={PIN}/expflow.yaml"]
    text = f"policy pin={PIN}/expflow.yaml, 7 document(s)\nexp-001  {PIN}  ok\n"
    shown = f"policy pin=****/expflow.yaml, 7 document(s)\nexp-001  {PIN}  ok\n"
    assert masked_quoting(text, typed) == shown
    assert masked_quoting(text, ["audit", "--top", PIN]) == text


def test_digits_beside_a_word_holding_pin_are_no_pin(demo_repo: Path) -> None:
    """`pin` counts as the word alone (the scan's tag rule's boundary), and only the
    digits beside it: `spin_steps=1500` made `--seed -1500` print `-****` (a review)."""
    from expflow_git.errors import masked_output

    steps = str(1000 + 500)
    args = ["new", "e11", "--study", "s", "--param", "sub_step=1"]
    args += ["--param", f"spin_steps={steps}", "--seed", f"-{steps}"]
    res = run_cli(args, demo_repo)
    assert res.code == 2 and f"-{steps} is not in the range" in res.err, res
    line = f"'--seed': -{steps} is not in the range"
    for word in ("spin", "spinup", "pinball", "SPIN", "pin_x=1 x", "pinned"):
        assert masked_output(line, ["--seed", f"-{steps}", f"{word} {steps}"]) == line, word
    for word in ("pin", "PIN", "--pin", "x --pin", "pin:", "(pin"):
        typed = ["--seed", f"-{steps}", f"{word} {steps}"]
        assert masked_output(line, typed) == "'--seed': -**** is not in the range", word
