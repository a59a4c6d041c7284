"""`expflow-git demo`: builds, commits, audits, signs and verifies the seed competition."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest
from helpers_audit import b64d, git, run_cli, statement_of


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    base = tmp_path_factory.mktemp("demo") / "here"
    res = run_cli(["demo", "--dir", str(base)], base.parent)
    assert res.code == 0, res
    assert "Traceback" not in res.err
    return base, res.out


def test_demo_prints_the_leaderboard(demo: tuple[Path, str]) -> None:
    base, out = demo
    assert "best_any: exp-002" in out
    assert "best_feasible: exp-001" in out
    assert re.search(r"^1\s+exp-001\s", out, re.M)
    assert re.search(r"^-\s+exp-002\s.*pde_mean:lt:18\.09", out, re.M)
    assert re.search(r"^-\s+exp-003\s.*sub_step:gt:0", out, re.M)
    assert re.search(r"^-\s+exp-004\s.*train_time_min:lt:60", out, re.M)
    assert "VERIFIED" in out
    assert str(base / "repo") in out and str(base / "report.json") in out


def test_demo_report_verifies_with_the_cli(demo: tuple[Path, str]) -> None:
    base, _ = demo
    report = base / "report.json"
    res = run_cli(
        [
            "verify",
            str(report),
            "--public-key",
            str(base / "demo-key.pub"),
            "--repo",
            str(base / "repo"),
        ],
        base,
    )
    assert res.code == 0, res.out
    assert "ok   recompute" in res.out
    result = statement_of(report.read_bytes())["predicate"]["result"]
    assert (result["verdict"], result["best_any"], result["best_feasible"]) == (
        "pass",
        "exp-002",
        "exp-001",
    )
    # and a tampered copy does not
    env = json.loads(report.read_bytes())
    payload = b64d(env["payload"]).replace(b'"exp-001"', b'"exp-00X"', 1)
    env["payload"] = base64.b64encode(payload).decode()
    bad = base / "bad.json"
    bad.write_text(json.dumps(env, separators=(",", ":"), sort_keys=True) + "\n")
    res = run_cli(["verify", str(bad), "--public-key", str(base / "demo-key.pub")], base)
    assert res.code == 1 and "FAIL signature" in res.out


def test_demo_is_deterministic_up_to_the_key(demo: tuple[Path, str], tmp_path: Path) -> None:
    base, _ = demo
    res = run_cli(["demo"], tmp_path, env={"TMPDIR": str(tmp_path)})
    assert res.code == 0, res
    [other] = [p for p in tmp_path.iterdir() if p.name.startswith("expflow-demo-")]
    assert git(other / "repo", "rev-parse", "HEAD") == git(base / "repo", "rev-parse", "HEAD")
    payload = [json.loads((d / "report.json").read_bytes())["payload"] for d in (base, other)]
    assert payload[0] == payload[1]  # same commit, same policy: same statement


def test_demo_refuses_an_existing_directory(demo: tuple[Path, str]) -> None:
    base, _ = demo
    before = (base / "report.json").read_bytes()
    res = run_cli(["demo", "--dir", str(base)], base)
    assert res.code == 2
    assert "exists already" in res.both
    assert (base / "report.json").read_bytes() == before


def test_every_file_the_demo_lists_exists(demo: tuple[Path, str]) -> None:
    _, out = demo
    listed = out.split("\nfiles:", 1)[1]
    paths = re.findall(r"(/\S+?)(?:,|\s|$)", listed)
    assert paths
    for path in paths:
        assert Path(path).exists(), path


def test_demo_with_a_relative_dir_keeps_its_files_out_of_the_repository(tmp_path: Path) -> None:
    """`demo --dir d1` wrote the private key, the report and the scorecard into
    d1/repo/d1/ (the steps run inside the repository), left them untracked there, and
    listed d1/demo-key, which did not exist (an attacker's hunt)."""
    res = run_cli(["demo", "--dir", "d1"], tmp_path)
    assert res.code == 0, res
    base = tmp_path / "d1"
    for name in ("demo-key", "demo-key.pub", "report.json", "scorecard.html"):
        assert (base / name).is_file(), name
    assert not (base / "repo" / "d1").exists()
    assert git(base / "repo", "status", "--porcelain") == ""
    assert f"keys       {base / 'demo-key'} (private" in res.out


@pytest.mark.parametrize("name", ["report.json", "scorecard.html", "demo-key.pub"])
def test_demo_never_writes_over_a_file_in_its_dir(tmp_path: Path, name: str) -> None:
    """`demo --dir DIR` replaced the user's DIR/report.json and DIR/scorecard.html: only
    DIR/repo was checked (an attacker's hunt)."""
    (tmp_path / name).write_text("mine\n")
    res = run_cli(["demo", "--dir", str(tmp_path)], tmp_path)
    assert res.code == 2 and "exists already" in res.both, res
    assert (tmp_path / name).read_text() == "mine\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]


README = Path(__file__).resolve().parents[1] / "README.md"


def test_the_readmes_gated_rank_prints_as_quoted(demo: tuple[Path, str]) -> None:
    """README's `rank --sort-by pde_mean ... --gate ...` block is what the demo's
    repository prints: no test held it, and its `seg_total` column (the policy's own
    sort metric) went when rank's columns were taken from the policy (a hunter's find,
    issue 18 twenty-ninth pass)."""
    base, _ = demo
    text = README.read_text(encoding="utf-8")
    start = text.index("$ expflow-git rank --sort-by pde_mean")
    command, quoted = text[start:].split("\n```", 1)[0].split("\n", 1)
    res = run_cli(command.removeprefix("$ expflow-git ").split(), base / "repo")
    assert res.code == 0, res
    assert res.out.strip() == quoted.strip()


@pytest.mark.parametrize(
    "args",
    [
        ["rank", "--policy", ""],
        ["audit", "--policy", ""],
        ["validate", "--policy", ""],
        ["init", ""],
        ["demo", "--dir", ""],
    ],
)
def test_an_empty_path_is_a_usage_error(demo: tuple[Path, str], args: list[str]) -> None:
    """`--policy ''` judged by expflow.yaml whatever EXPFLOW_POLICY named (a CI step's
    `--policy "$POLICY"` with the variable empty), `init ''` scaffolded the current
    folder and `demo --dir ''` wrote `./repo`: each exit 0 (a hunter's find)."""
    base, _ = demo
    repo = base / "repo"
    before = sorted(p.name for p in repo.iterdir())
    res = run_cli(args, repo, env={"EXPFLOW_POLICY": "other.yaml"})
    assert res.code == 2, res
    assert "give a path, not an empty string" in res.err, res
    assert sorted(p.name for p in repo.iterdir()) == before
