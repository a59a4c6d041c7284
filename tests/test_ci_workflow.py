"""The workflow `init` writes is the README's, and it runs what CI must run by default
(issue 13, attack 5): the full history checked out, the action (which checks the history
since the base and takes the rules from it), the report kept as an artifact."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from conftest import git_init, run_cli
from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ".github/workflows/expflow.yml"


def readme_workflow() -> str:
    """The YAML block of the README that starts with the workflow's path."""
    blocks = re.findall(r"```yaml\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    found = [b for b in blocks if b.startswith(f"# {WORKFLOW}\n")]
    assert len(found) == 1, "the README shows the workflow once"
    return str(found[0])


def init_workflow(tmp_path: Path) -> str:
    repo = git_init(tmp_path / "repo")
    code, out, err = run_cli(["init"], cwd=repo)
    assert code == 0, err
    assert f"created {WORKFLOW}" in out.splitlines()
    return (repo / WORKFLOW).read_text()


def step(steps: list[dict[str, Any]], uses: str) -> dict[str, Any]:
    found = [s for s in steps if str(s.get("uses", "")).startswith(uses)]
    assert len(found) == 1, (uses, steps)
    return found[0]


def test_init_writes_the_readmes_workflow(tmp_path: Path) -> None:
    assert init_workflow(tmp_path) == readme_workflow()


def test_the_workflow_checks_what_ci_must_by_default(tmp_path: Path) -> None:
    flow = YAML(typ="safe").load(init_workflow(tmp_path))
    action = YAML(typ="safe").load((ROOT / "action.yml").read_text())
    # `on:` is YAML 1.1's true to some loaders; ruamel's safe loader keeps the key.
    # never pull_request_target; merge_group: a merge queue's check of the merged commit
    assert set(flow["on"]) == {"pull_request", "push", "merge_group"}
    assert flow["permissions"] == {"contents": "read"}
    steps = flow["jobs"]["audit"]["steps"]
    assert step(steps, "actions/checkout@")["with"]["fetch-depth"] == 0
    audit = step(steps, "expflow/expflow-git@")
    # No tag of expflow-git is published: the user pins the copy they host, by commit.
    assert re.fullmatch(r"expflow/expflow-git@[0-9a-f]{40}", audit["uses"])
    inputs = audit["with"]
    assert set(inputs) <= set(action["inputs"])
    # History and the trusted policy come from the action's defaults (the event's base):
    # a `since` or `rev` set here could only narrow them.
    assert "since" not in inputs and "rev" not in inputs
    upload = step(steps, "actions/upload-artifact@")
    # Only a report this run wrote is uploaded (report-path is empty otherwise): a folder
    # a pull request committed at that path must never become the artifact.
    assert upload["if"] == "always() && steps.audit.outputs.report-path != ''"
    assert audit["id"] == "audit"
    assert set(upload["with"]["path"].split()) == {inputs["report-path"], inputs["html-path"]}
    for s in steps:
        assert "${{" not in s.get("run", ""), s
    assert "${{" not in str(inputs["signing-key"]).replace("${{ secrets.", "")
