"""README.md read sentence by sentence against the real CLI (issue 18, forty-second pass).

The quick start says `expflow-git init .` "scaffolds a nested project anyway" below a work
tree's root. It scaffolded one no command used: every command takes its policy's globs
from the work tree's root, so the nested policy's `experiments/**/*.json` named the
root's folders, never the ones init had just made, and `new` in the folder said
"expflow.yaml: no policy file; run `expflow-git init`", right after init (commands read
`expflow.yaml` at the root). Its globs now start at the folder (`ml/experiments/**`,
`ml/results/**`, `ml/corrections/**`) and init's warning says how commands read it."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import ExpRepo
from support import PROJECT, git, git_init, run_cli


def test_init_dot_below_the_root_scaffolds_a_project_its_commands_use(tmp_path: Path) -> None:
    work = git_init(tmp_path / "repo")
    nested = work / "ml"
    nested.mkdir()
    res = run_cli(["init", "."], cwd=nested)
    assert res.code == 0, res
    warned = res.err
    env = {"EXPFLOW_POLICY": "ml/expflow.yaml"}
    assert run_cli(["new", "e1", "--study", "s"], cwd=nested, env=env).code == 0
    res = run_cli(["result", "e1", "--metric", "accuracy=0.5"], cwd=nested, env=env)
    assert res.code == 0, res
    # the run is in the folders init made, and nowhere else
    assert (nested / "experiments/s/e1.json").is_file(), res
    assert (nested / "results/s/e1.json").is_file(), res
    assert sorted(p.name for p in work.iterdir()) == [".git", "ml"]
    # the warning says how a command reads this policy, from anywhere in the work tree
    assert "`--policy ml/expflow.yaml` (or EXPFLOW_POLICY=ml/expflow.yaml)" in warned
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", "e1")
    res = run_cli(["audit"], cwd=work, env=env)
    assert res.code == 0 and "2 document(s)" in res.out, res
    # a deletion's correction goes beside them too
    res = run_cli(["rm", "e1", "--reason", "bad split", "--force"], cwd=work, env=env)
    assert res.code == 0, res
    assert list((nested / "corrections/s/e1").glob("*.json")), res
    assert sorted(p.name for p in work.iterdir()) == [".git", "ml"]


def test_init_at_the_root_writes_the_policy_as_before(tmp_path: Path) -> None:
    work = git_init(tmp_path / "repo")
    assert run_cli(["init"], cwd=work).code == 0
    text = (work / "expflow.yaml").read_text()
    assert '  experiments: ["experiments/**/*.json"]\n' in text
    assert '  results: ["results/**/*.json"]\n' in text and "corrections:" not in text


def test_the_readme_says_which_forms_of_rank_print_the_best_runs(committed_repo: ExpRepo) -> None:
    """README said "`rank` prints `best_any` and `best_feasible` as its last line"; only
    the table does (the spec's word: "the table's last line"), JSON holds them as keys,
    and the Markdown and CSV forms hold neither."""
    readme = " ".join((PROJECT / "README.md").read_text("utf-8").split())
    assert "`rank` prints `best_any` and `best_feasible` as its last line" not in readme
    assert "`rank`'s table prints `best_any` and `best_feasible` as its last line" in readme
    committed_repo.add_experiment()
    committed_repo.add_result()
    committed_repo.commit("exp-001")
    for fmt, shown in (("table", True), ("md", False), ("csv", False)):
        res = run_cli(["rank", "--format", fmt], cwd=committed_repo.path)
        assert res.code == 0, res
        assert ("best_any:" in res.out.splitlines()[-1]) is shown, (fmt, res)
    res = run_cli(["rank", "--format", "json"], cwd=committed_repo.path)
    assert {"best_any", "best_feasible"} <= set(json.loads(res.out)), res
