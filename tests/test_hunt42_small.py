"""Small items earlier passes left (issue 18, forty-second pass), closed. Each test
failed on the code before."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import ExpRepo
from helpers_audit import (
    POLICY,
    clean_env,
    commit_all,
    experiment,
    m,
    new_repo,
    result,
    run_cli,
    statement_of,
    write_json,
)
from support import CliCall, shows
from support import run_cli as support_run_cli

PIN = str(4000 + 821)


def _rules_on_mode(count: int) -> str:
    rules = "".join(f"  - {{param: mode, op: eq, value: x{i}}}\n" for i in range(count))
    return POLICY.replace("rules:\n", "rules:\n" + rules, 1)


def _repo_with_mode(root: Path, value: str, rules: int) -> Path:
    new_repo(root, _rules_on_mode(rules))
    doc = experiment("e1")
    doc["params"]["mode"] = value
    write_json(root, "experiments/pdebench-task1/e1.json", doc)
    write_json(root, "results/pdebench-task1/e1.json", result("e1", m(0.5)))
    commit_all(root, "a long param value")
    return root


def _rule_details(report: Path) -> list[str]:
    entries = statement_of(report.read_bytes())["predicate"]["entries"]
    (run,) = [e for e in entries if e.get("type") == "run"]
    return [c["detail"] for c in run["checks"] if c["kind"] == "rule" and not c["passed"]]


def test_a_failed_rule_quotes_a_long_param_value_cut(tmp_path: Path) -> None:
    """A failed rule's detail quoted the param's value whole: a record may hold a value
    of up to its 1 MiB, and each of up to 256 rules on it quoted it again, in the report,
    the terminal and the action's outputs (a 100,000-character value under 50 rules: a
    6.7 MB report and 5 MB on the terminal for one run). The detail quotes its first 64
    characters, an ellipsis and the length; the report stays verifiable."""
    repo = _repo_with_mode(tmp_path / "repo", "A" * 20_000, 30)
    out = tmp_path / "report.json"
    done = run_cli(["audit", "--no-cache", "--out", str(out)], repo)
    assert done.code == 1, done
    assert "Traceback" not in done.err
    details = _rule_details(out)
    # (lengths first: pytest's diff of the old 20,000-character details takes minutes)
    assert max(map(len, details)) < 200, [d[:100] for d in details]
    assert details == [f"mode = '{'A' * 64}… (20000 characters) not == 'x{i}'" for i in range(30)]
    assert out.stat().st_size < 60_000, out.stat().st_size
    assert len(done.out) < 20_000, len(done.out)
    assert ("A" * 65 in done.out) is False
    again = tmp_path / "again.json"
    assert run_cli(["audit", "--no-cache", "--out", str(again)], repo).code == 1
    assert again.read_bytes() == out.read_bytes()  # deterministic
    verified = run_cli(["verify", "--allow-unsigned", str(out)], repo)
    assert verified.code == 0, verified
    shown = run_cli(["audit", "--no-cache", "--format", "json"], repo)
    assert len(shown.out) < 60_000, len(shown.out)
    assert ("A" * 65 in shown.out) is False


def test_a_short_param_value_is_still_quoted_whole(tmp_path: Path) -> None:
    """The nearest innocent case: a value of 64 characters or fewer is quoted as before."""
    repo = _repo_with_mode(tmp_path / "repo", "A" * 64, 1)
    out = tmp_path / "report.json"
    assert run_cli(["audit", "--no-cache", "--out", str(out)], repo).code == 1
    assert _rule_details(out) == [f"mode = '{'A' * 64}' not == 'x0'"]


def test_the_cut_never_shows_part_of_a_pin_the_whole_value_masks(tmp_path: Path) -> None:
    """The value is masked before it is cut: a cut through `--pin NNNN` shows no digit of
    the PIN the scan masks in the whole value."""
    value = "A" * 55 + " --pin " + PIN + " " + "B" * 100
    repo = _repo_with_mode(tmp_path / "repo", value, 1)
    out = tmp_path / "report.json"
    done = run_cli(["audit", "--no-cache", "--out", str(out)], repo)
    assert done.code == 1, done
    (detail,) = _rule_details(out)
    assert len(detail) < 200, detail[:100]
    assert "--pin " + PIN[:2] not in detail, detail
    assert detail.endswith(f"… ({len(value)} characters) not == 'x0'"), detail
    for text in (done.out, done.err, json.dumps(detail)):
        assert not shows(PIN, text)
        assert "--pin " + PIN[:2] not in text


def test_a_completion_variable_in_the_environment_never_passes_a_command(
    tmp_path: Path,
) -> None:
    """click answers its shell completion variable (`_EXPFLOW_GIT_COMPLETE`) in any
    command's place: with it in a hook's or a CI step's environment, `audit` of a failing
    commit printed a bash completion script and exited 0 having checked nothing
    (`bash_source`), or stopped with a KeyError traceback (`bash_complete`). A verdict
    command must never exit 0 without checking: the variable is honoured only as a
    shell's completion calls the program (no argument)."""
    repo = _repo_with_mode(tmp_path / "repo", "A", 1)  # its one run fails its rule
    out = tmp_path / "report.json"
    for instruction in ("bash_source", "zsh_source", "fish_complete", "bash_complete", "1"):
        env = {"_EXPFLOW_GIT_COMPLETE": instruction}
        done = run_cli(["audit", "--no-cache", "--out", str(out)], repo, env=env)
        assert done.code == 1, (instruction, done)
        assert "verdict: FAIL" in done.out, (instruction, done)
        assert "Traceback" not in done.err, (instruction, done)
        assert "completion" not in done.out, (instruction, done)
        assert out.is_file()
        out.unlink()
    # A shell's completion, as click's scripts call it, still works.
    source = run_cli([], repo, env={"_EXPFLOW_GIT_COMPLETE": "bash_source"})
    assert source.code == 0 and "_expflow_git_completion" in source.out, source
    words = {"COMP_WORDS": "expflow-git aud", "COMP_CWORD": "1"}
    completed = run_cli([], repo, env={"_EXPFLOW_GIT_COMPLETE": "bash_complete", **words})
    assert completed.code == 0 and "plain,audit" in completed.out.split(), completed


@pytest.mark.usefixtures("isolated_env")
def test_new_refuses_an_empty_title(exp_repo: ExpRepo, cli: CliCall) -> None:
    """Spec §4: an empty string given is "never taken for the option left out". `new e5
    --title ''` (a script's `--title "$TITLE"`, the variable empty) wrote a record with
    no title, exit 0, as the forty-first pass had `--condition ''` do."""
    study = "pdebench-task1"
    done = cli(["new", "e5", "--study", study, "--title", ""], exp_repo.path)
    assert done.code == 2, done
    assert "'--title'" in done.err and "not an empty string" in done.err, done
    assert len(done.err.strip().splitlines()) == 1, done
    assert not (exp_repo.path / exp_repo.exp_path("e5", study)).exists()
    assert cli(["new", "e5", "--study", study, "--title", "t"], exp_repo.path).code == 0
    assert cli(["new", "e6", "--study", study], exp_repo.path).code == 0  # none: as before


def test_a_policy_of_deep_flow_collections_is_refused_at_its_bracket(tmp_path: Path) -> None:
    """ruamel's scanner works per token in proportion to the flow depth: 160 KB of `[`
    … `]` 400 deep (a policy's cap is 1 MiB) took 47 s before the depth bound refused what
    was built. A flow collection deeper than the policy may nest is now a YAML error at
    its bracket: one line naming the file, exit 2, at once."""
    deep = "a: [" + ("[" * 400 + "]" * 400 + ",") * 200 + "]\n"
    repo = new_repo(tmp_path / "repo", POLICY + deep)
    commit_all(repo, "a deep policy")
    done = support_run_cli(["validate"], repo, clean_env(), timeout=30)  # 47 s before
    assert done.code == 2, done
    lines = done.err.strip().splitlines()
    assert len(lines) == 1, done
    assert lines[0].startswith("expflow-git: error: expflow.yaml:"), done
    assert "nest more than 64 levels deep" in lines[0], done
    # At the bound (64 flow levels below the top mapping) it reads as before.
    shallow = new_repo(tmp_path / "shallow", POLICY + "a: " + "[" * 64 + "]" * 64 + "\n")
    done = run_cli(["validate"], shallow)
    assert done.code == 2 and "unknown key 'a'" in done.err, done
    deeper = new_repo(tmp_path / "deeper", POLICY + "a: " + "[" * 65 + "]" * 65 + "\n")
    done = run_cli(["validate"], deeper)
    assert done.code == 2 and "nest more than 64 levels deep" in done.err, done


KEY = "EXPFLOW" + "_PIN"


def _scan_found(text: str) -> list[tuple[str, int, int]]:
    from expflow_git.pinscan.scanner import scan_bytes

    return [(f.rule, f.line, f.col) for f in scan_bytes("config.fish", text.encode())]


@pytest.mark.parametrize(
    "text",
    [
        f"echo and \\\nset -x {KEY} {PIN}\n",
        f"echo and and \\\nset -x {KEY} {PIN}\n",
        f"echo not \\\n  \\\nset -x {KEY} {PIN}\n",
        f"x \\\nand \\\nset -x {KEY} {PIN}\n",
    ],
    ids=["echo-and", "echo-and-and", "echo-not-blank", "and-continuing-words"],
)
def test_a_keyword_that_is_a_commands_argument_begins_no_statement(text: str) -> None:
    """The forty-first pass's review left `echo and \\` then `set -x EXPFLOW_PIN NNNN`
    flagged (a false finding): fish reads `and` after `echo` as echo's argument, and so
    `set -x …` too. A keyword counts only where a statement begins."""
    assert _scan_found(text) == [], text


@pytest.mark.parametrize(
    "text",
    [
        f"echo x; and \\\nset -x {KEY} {PIN}\n",
        f"echo x;and \\\nset -x {KEY} {PIN}\n",
        f"x; \\\nand \\\nset -x {KEY} {PIN}\n",
        f"and \\\nset -x {KEY} {PIN}\n",
        f"x; 'and' \\\nset -x {KEY} {PIN}\n",
        f"echo x; not and \\\n  \\\nset -x {KEY} {PIN}\n",
        f"if \\\nset -x {KEY} {PIN}\nend\n",
    ],
    ids=["semicolon-and", "glued", "and-line", "line-start", "quoted", "chain", "if"],
)
def test_a_keyword_where_a_statement_begins_still_hides_no_assignment(text: str) -> None:
    """The miss the change must not open: a keyword after an operator, another keyword or
    a line's start begins a statement, and the `set` after it is read."""
    line = text.count("\n", 0, text.index("set -x"))
    assert [(r, ln) for r, ln, _ in _scan_found(text)] == [("pin-assignment", line + 1)], text


def test_the_folder_walk_builds_each_relative_path_from_its_text(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`walk_files` took each folder's path relative to the top with `os.path.relpath`,
    which splits both paths into their parts: quadratic in a chain's depth (1.3 s of
    2,000 nested folders, a path git commits and checks out). The path is now the
    folder's text past the top's, the same names as before."""
    import os

    from expflow_git.workspace import below, walk_files

    top = tmp_path / "tree"
    deep = top / "/".join(["d"] * 60)
    deep.mkdir(parents=True)
    (deep / "f.json").write_text("{}\n")
    (top / "a.json").write_text("{}\n")
    (top / "d" / "g.json").write_text("{}\n")

    def no_relpath(*args: object) -> str:
        raise AssertionError("os.path.relpath called")

    monkeypatch.setattr(os.path, "relpath", no_relpath)
    found = sorted(walk_files(top))
    monkeypatch.undo()
    assert found == sorted(["a.json", "d/g.json", "/".join(["d"] * 60) + "/f.json"])
    assert below(str(top), str(top)) == ""
    assert below(os.path.join("/", "x"), "/") == "x"
    assert below(os.path.join(".", "x", "y"), ".") == "x/y"
