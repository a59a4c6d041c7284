"""A hunt of the documentation against the code (thirty-eighth pass): what README.md,
docs/spec.md and the code's own citations of the spec say must be what the tool does.
tests/test_docs_options.py holds each command's options to the command tables; these
hold what it leaves out: the group's own options, the git version the code needs, the
report's `result` fields, a message the spec quotes, the spec sections the code cites,
and what `scan` reads without PATHS."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
from pathlib import Path

import click
import pytest
from conftest import PROJECT, ExpRepo, run_cli

from expflow_git.cli.group import cli

pytestmark = pytest.mark.usefixtures("isolated_env")

README = PROJECT / "README.md"
SPEC = PROJECT / "docs" / "spec.md"


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def test_the_readme_names_the_git_version_the_code_needs() -> None:
    """README: "Python ≥ 3.10 and git ≥ 2.30 are needed." The history walk (`audit
    --since`, the Ladder, a run's history in `show`, the deletions the corrections
    hold) runs `git log --diff-merges=first-parent`, an option git 2.31 brought ("git
    log learned a new --diff-merges=<how> option", its release notes), and gitstore.py
    says "Needs git 2.31 or newer". Git 2.30 (Debian 11's git) refuses the option."""
    readme = re.search(r"git ≥ (\d+\.\d+)", README.read_text(encoding="utf-8"))
    assert readme is not None, "README names no git version"
    gitstore = (PROJECT / "expflow_git" / "gitstore.py").read_text(encoding="utf-8")
    code = re.search(r"Needs git (\d+\.\d+) or newer", gitstore)
    assert code is not None, "gitstore.py names no git version"
    needed = _version(code.group(1))
    if "--diff-merges" in gitstore:
        needed = max(needed, (2, 31))
    assert _version(readme.group(1)) >= needed, (readme.group(1), needed)


def _group_options() -> list[str]:
    """The options of the `expflow-git` group itself (not its commands'), `--help` aside."""
    names: list[str] = []
    for param in cli.params:
        if isinstance(param, click.Option) and not param.hidden:
            names += [*param.opts, *param.secondary_opts]
    return names


@pytest.mark.parametrize("doc", [README, SPEC])
def test_the_groups_own_options_are_in_the_docs(doc: Path) -> None:
    """`expflow-git --help` lists `--version` ("Show the version and exit."), which
    neither the README nor the spec named: tests/test_docs_options.py reads the
    commands' options, never the group's."""
    options = _group_options()
    assert "--version" in options, options
    text = doc.read_text(encoding="utf-8")
    common = re.search(r"Every\s+command\s+but\s.*?\n\n", text, re.S)
    assert common is not None
    missing = [name for name in options if f"`expflow-git {name}`" not in common.group(0)]
    assert missing == [], f"{doc.name} leaves out {missing}"
    res = run_cli(["--version"], PROJECT)
    assert res.code == 0 and res.out.startswith("expflow-git, version "), res


def _report_result(repo: ExpRepo, tmp_path: Path) -> dict[str, object]:
    repo.add_experiment("exp-001")
    repo.add_result("exp-001")
    repo.commit("a run")
    out = tmp_path / "report.json"
    res = run_cli(["audit", "--out", str(out)], repo.path)
    assert res.code == 0, res
    envelope = json.loads(out.read_bytes())
    statement = json.loads(base64.b64decode(envelope["payload"]))
    result = statement["predicate"]["result"]
    assert isinstance(result, dict)
    return result


def _spec_result_members() -> tuple[set[str], str]:
    """The members §6.3 gives the predicate's `result` before its first `;` (each name
    before any `:` description or `{…}` of its own), and the whole description."""
    text = " ".join(SPEC.read_text(encoding="utf-8").split())
    found = re.search(r"`result` \((.*?)\); `chain`", text)
    assert found is not None, "§6.3 describes no `result`"
    whole = found.group(1)
    first = re.sub(r"\{[^}]*\}", "", whole.split(";", 1)[0])
    names = {part.split(":", 1)[0].strip().strip("`") for part in first.split(",")}
    return names, whole


def test_the_spec_names_the_reports_result_fields(committed_repo: ExpRepo, tmp_path: Path) -> None:
    """§6.3: "`result` (verdict, focus: …, counts, best_any, best_feasible, ranking,
    walk-forward, findings; …)". The report's `result` holds no `findings` (their number
    is `counts.findings`) and spells the walk-forward outcome `walkForward`: a verifier
    written from the spec looks for two fields that are not there."""
    result = _report_result(committed_repo, tmp_path)
    names, whole = _spec_result_members()
    always = set(result) - {"attempts", "best_ladder", "ladder"}  # (the optional ones)
    assert names == always, (sorted(names), sorted(always))
    counts = result["counts"]
    assert isinstance(counts, dict)
    for key in counts:
        assert re.search(rf"\b{key}\b", whole), f"§6.3 does not name counts.{key}"


def test_the_spec_quotes_the_message_for_a_policy_that_is_a_pipe(exp_repo: ExpRepo) -> None:
    """§3: a pipe at the policy's place is refused "naming it (`cannot read policy: a
    pipe, not a regular file`)"; the tool says `a named pipe`, as every message that
    names a kind of file does (`atomicfile.mode_kind`)."""
    if not hasattr(os, "mkfifo"):
        pytest.skip("no named pipes here")
    quoted = re.search(r"`(cannot read policy: [^`]+)`", SPEC.read_text(encoding="utf-8"))
    assert quoted is not None
    fifo = exp_repo.path.parent / "policy.yaml"
    os.mkfifo(fifo)
    res = run_cli(["validate", "--policy", str(fifo)], exp_repo.path)
    assert res.code == 2, res
    assert quoted.group(1) in res.err, (quoted.group(1), res.err)


_SECTION = re.compile(r"^(#{2,3}) (\d+(?:\.\d+)?)\.? ", re.M)
_CITED = re.compile(r"§(\d+(?:\.\d+)?)(?: items? (\d+)(?: and (\d+))?)?")


def _sections() -> dict[str, int]:
    """The spec's section numbers, each with the number of items of its numbered list."""
    text = SPEC.read_text(encoding="utf-8")
    heads = list(_SECTION.finditer(text))
    found: dict[str, int] = {}
    for n, head in enumerate(heads):
        end = heads[n + 1].start() if n + 1 < len(heads) else len(text)
        items = re.findall(r"^(\d+)\. ", text[head.end() : end], re.M)
        found[head.group(2)] = max((int(i) for i in items), default=0)
    return found


def _citations() -> list[tuple[str, str]]:
    """Every `§N` the package, the spec and the user docs cite of docs/spec.md: (where,
    the citation). A line that names an RFC or SARIF cites their sections, not ours."""
    files = [*sorted((PROJECT / "expflow_git").rglob("*.py")), README, SPEC]
    files += [PROJECT / "docs" / "api.md", PROJECT / "docs" / "threat-model.md"]
    files += [PROJECT / "CONTRIBUTING.md", PROJECT / "action.yml"]
    found = []
    for path in files:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if "RFC" in line or "SARIF" in line:
                continue
            for cited in _CITED.finditer(line):
                found.append((f"{path.relative_to(PROJECT)}:{number}", cited.group(0)))
    return found


def test_every_section_of_the_spec_the_code_cites_exists() -> None:
    """The spec: "Section numbers are stable: code comments cite them as `docs/spec.md
    §N`". Six modules (history/, hooks/protect.py, localcache.py) cited `docs/spec.md
    §9`, a section the spec has never had (sections 1 to 8): what they meant, the
    write-once results, the secrets in the history and the local cache being trusted,
    is docs/threat-model.md."""
    sections = _sections()
    assert {"2.4", "6.2", "8"} <= set(sections) and sections["6.2"] == 10, sections
    citations = _citations()
    assert len(citations) > 100, len(citations)
    wrong = []
    for where, cited in citations:
        found = _CITED.fullmatch(cited)
        assert found is not None
        number, items = found.group(1), [int(i) for i in found.groups()[1:] if i]
        if number not in sections or any(i > sections[number] for i in items):
            wrong.append(f"{where}: {cited}")
    assert wrong == [], wrong


def test_the_docs_say_what_scan_reads_without_paths(committed_repo: ExpRepo) -> None:
    """`scan` without PATHS reads every tracked file (its `--help` says so), not the
    work tree `validate` reads ("untracked documents too", README): a PIN hash in a
    file not yet added is found once it is named or staged, and a plain `scan` says
    "N file(s) clean" without it. Neither the README's command table nor the spec's
    said which files a plain `scan` reads, next to a `validate` that reads untracked
    files too: a user checking before `git add` would take it for the same."""
    digest = hashlib.sha256(str(4000 + 821).encode()).hexdigest()
    committed_repo.write("notes.txt", f"approval {digest}\n")
    plain = run_cli(["scan"], committed_repo.path)
    assert plain.code == 0 and "clean" in plain.err, plain
    named = run_cli(["scan", "notes.txt"], committed_repo.path)
    assert named.code == 1 and "pin-sha256" in named.out, named
    for doc in (README, SPEC):
        text = doc.read_text(encoding="utf-8")
        row = re.search(
            r"^\| `scan \[PATHS\]… \[--staged\](?: \[--files-from FILE\]…)?` \| (.*)\|$", text, re.M
        )
        assert row is not None, doc.name
        assert "every tracked file" in row.group(1), (doc.name, row.group(1))
        assert "untracked" in row.group(1), (doc.name, row.group(1))


def _spec_row(command: str) -> str:
    """The spec's command-table row of `command`."""
    row = re.search(rf"^\| `{re.escape(command)} [^\n]*$", SPEC.read_text(encoding="utf-8"), re.M)
    assert row is not None, command
    return row.group(0)


def test_the_spec_says_what_diffs_options_and_exit_code_do(committed_repo: ExpRepo) -> None:
    """`diff --help`: "REV_B defaults to HEAD", "--all  Also rows that did not change",
    "--fail-on-regression  Exit 1 if any metric regressed", `--atol`/`--rtol` "[default:
    0.0]". The spec's row named the options and none of that: an exit code of the CLI
    that the contract did not hold, nor the words a row's `change` takes in JSON."""
    from expflow_git.audit.diff import Change

    committed_repo.add_experiment("exp-001")
    committed_repo.add_result("exp-001")
    before = committed_repo.commit("a run")
    worse = {"seg_total": 50.0, "pde_mean": 15.0, "train_time_min": 45.5}
    committed_repo.add_result("exp-001", metrics=worse)
    committed_repo.commit("a worse run (no hooks: the history is what diff reads)")
    shown = run_cli(["diff", before], committed_repo.path)
    assert shown.code == 0 and "regressed" in shown.out, shown
    gate = run_cli(["diff", before, "--fail-on-regression"], committed_repo.path)
    assert gate.code == 1, gate
    loose = run_cli(["diff", before, "--rtol", "0.5", "--fail-on-regression"], committed_repo.path)
    assert loose.code == 0 and "regressed" not in loose.out, loose
    row = _spec_row("diff")
    assert "REV_B by default HEAD" in row, row
    assert "`--fail-on-regression` exits 1 when a row regressed" in row, row
    assert "`--all`" in row.split(" | ", 1)[1] and "0 by default" in row, row
    for change in Change:
        assert f"`{change.value}`" in row, change


def test_the_spec_says_what_inits_and_demos_defaults_are() -> None:
    """`init --help`: "--template … [default: minimal]"; `demo --help`: "--dir … (default:
    a new temporary directory)". The spec's rows named the options, not the defaults."""
    assert "`minimal`, the default" in _spec_row("init"), _spec_row("init")
    assert "by default a new temporary folder" in _spec_row("demo"), _spec_row("demo")


def _sh_blocks(heading: str) -> list[str]:
    text = README.read_text(encoding="utf-8")
    start = text.index(f"\n{heading}\n")
    end = text.find("\n## ", start + 1)
    return re.findall(r"^```sh\n(.*?)^```$", text[start:end], re.S | re.M)


def test_the_readmes_two_commands_name_what_ci_and_the_package_have() -> None:
    """README's "The two commands" as a fresh machine runs them: the first installs the
    package and runs `expflow-git demo` (the console script pyproject names); the
    second is CI's test step, word for word the line `.ci/run` runs ("keep the two in
    step"), with extras pyproject defines. No test held either (issue 18)."""
    demo, tests = (block.strip() for block in _sh_blocks("## The two commands"))
    venv = "python3 -m venv .venv && . .venv/bin/activate && "
    assert demo == f"{venv}pip install . && expflow-git demo", demo
    assert tests.startswith(venv), tests
    ci = (PROJECT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    step = [line for line in ci if line.strip() and not line.startswith("#")][-1]
    assert tests.removeprefix(venv) == step, (tests, step)
    project = (PROJECT / "pyproject.toml").read_text(encoding="utf-8")  # (no tomllib on 3.10)
    assert '\nexpflow-git = "expflow_git.__main__:main"\n' in project
    optional = project.split("[project.optional-dependencies]\n", 1)[1].split("\n[", 1)[0]
    defined = set(re.findall(r"^([a-z]+) = \[", optional, re.M))
    extras = re.search(r'"\.\[([^\]]+)\]"', step)
    assert extras is not None, step
    assert set(extras.group(1).split(",")) <= defined, (extras.group(1), defined)
    assert step.endswith("python -m pytest -q"), step
    assert '\ntestpaths = ["tests"]\n' in project


def test_the_spec_says_what_ranks_top_and_tags_do(committed_repo: ExpRepo) -> None:
    """`rank --help`: "--top  Show at most N rows", "--tag  Only runs with this tag
    (repeatable: all of them)". The spec's row named both options and neither rule;
    `--top` leaves the best runs those of the whole board."""
    for n, seg_total in enumerate([50.0, 60.0, 55.0], 1):
        committed_repo.add_experiment(f"exp-00{n}", tags=["fno"] if n < 3 else ["fno", "x"])
        time = 72.0 if n == 2 else 45.5  # exp-002, the best score, over the time threshold
        metrics = {"seg_total": seg_total, "pde_mean": 15.0, "train_time_min": time}
        committed_repo.add_result(f"exp-00{n}", metrics=metrics)
    committed_repo.commit("three runs")
    top = run_cli(["rank", "--top", "1", "--format", "json"], committed_repo.path)
    assert top.code == 0, top
    board = json.loads(top.out)
    assert [row["id"] for row in board["ranking"]] == ["exp-003"], board
    assert (board["best_any"], board["best_feasible"]) == ("exp-002", "exp-003"), board
    tags = run_cli(["rank", "--tag", "fno", "--tag", "x", "--format", "json"], committed_repo.path)
    assert [row["id"] for row in json.loads(tags.out)["ranking"]] == ["exp-003"], tags
    row = _spec_row("rank")
    assert "`--tag` given several times keeps the runs that have every one" in row, row
    assert "`--top N` shows the first N rows" in row, row


def _spec_import_text() -> str:
    text = SPEC.read_text(encoding="utf-8")
    part = text[text.index("### 4.2 Importing runs") : text.index("## 5. PIN protection")]
    return " ".join(part.split())


def test_the_spec_says_a_refused_run_prints_a_line_per_reason(committed_repo: ExpRepo) -> None:
    """§4.2: "Output: one line per run that is not unchanged". A refused run prints one
    line per reason (`cli/imports._print`: "refusals: one per reason"): a row lacking two
    required metrics is two `refused` lines, and a script counting lines for runs
    counts one run twice."""
    (committed_repo.path / "runs.csv").write_text("run,seg_total\nr1,50\n", encoding="utf-8")
    args = ["import", "csv", "runs.csv", "--id-column", "run", "--study", "sheet", "--dry-run"]
    res = run_cli(args, committed_repo.path)
    assert res.code == 1, res
    refused = [line for line in res.out.splitlines() if line.startswith("refused ")]
    assert len(refused) == 2 and all(" r1 (id r1): " in line for line in refused), res.out
    assert "a refused run: one line per reason" in _spec_import_text()


def test_the_spec_says_whose_name_the_records_study_is(committed_repo: ExpRepo) -> None:
    """`import optuna --help`: "--study-as S  The records' study (default: the study
    name)"; mlflow's: "(default: the experiment)". §4.2 named the option but not the
    default, nor that `--study-as` (and `import csv --study`) must be an id as given,
    where the tracker's own name is sanitized."""
    (committed_repo.path / "runs.csv").write_text("run,seg_total\nr1,50\n", encoding="utf-8")
    args = ["import", "csv", "runs.csv", "--id-column", "run", "--study", "my sheet"]
    res = run_cli([*args, "--dry-run"], committed_repo.path)
    assert res.code == 2 and "--study 'my sheet': use letters" in res.err, res
    text = _spec_import_text()
    assert "by default the Optuna study's or MLflow experiment's name" in text
    assert "which must be an id as given (else exit 2)" in text
