"""Helpers for the rank / audit / report / verify / demo tests.

Real git repositories in tmp dirs with a local identity, no signing and fixed
dates (so commits, and so reports, are the same on every run); the real CLI,
either in-process (`expflow_git.cli.main`, fast) or as a subprocess.

Kept apart from conftest.py on purpose: these tests own their fixtures.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import rfc8785
from support import IDENTITY, CliCall, CliResult, in_process_cli, scrub_process_env, scrubbed_env
from support import git as support_git
from support import run_cli as support_run_cli

DATE = "2026-11-20T10:00:00+00:00"
STUDY = "pdebench-task1"
PAYLOAD_TYPE = "application/vnd.in-toto+json"
# SHA-256 of the PIN "1234": what a leaked legacy PIN hash looks like.
PIN_SHA = hashlib.sha256(b"1234").hexdigest()

# The seed competition (docs/spec.md §3.1 subset), without the walk-forward gate.
POLICY = """\
version: 1
paths:
  experiments: ["experiments/**/*.json"]
  results: ["results/**/*.json"]
metrics:
  seg_total: {group: Score, higher_is_better: true}
  seg1: {group: Score, higher_is_better: true}
  pde_mean: {group: PDE, higher_is_better: false, threshold: 18.09}
  train_time_min: {group: Time, higher_is_better: false, threshold: 60, min: 0}
required_metrics: [seg_total, pde_mean, train_time_min]
ranking:
  sort_by: seg_total
  tie_break: [pde_mean]
gates: []
rules:
  - {param: sub_step, op: gt, value: 0, required: true}
"""

WALK = "walk_forward: {metric: seg_total, split: holdout, top_n: 10, min_pearson: 0.3}\n"


def clean_env(extra: Mapping[str, str] | None = None, date: str = DATE) -> dict[str, str]:
    """The scrubbed environment (tests/support.py) with a fixed identity and dates."""
    return scrubbed_env(
        {
            **IDENTITY,
            "GIT_AUTHOR_DATE": date,
            "GIT_COMMITTER_DATE": date,
            "GIT_CONFIG_NOSYSTEM": "1",
            **(extra or {}),
        }
    )


# support.git, with this module's fixed identity and date unless a call names another.
git = functools.partial(support_git, date=DATE, env={"GIT_CONFIG_NOSYSTEM": "1"})


def init_repo(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", "main")
    git(path, "config", "user.name", "Expflow Tester")
    git(path, "config", "user.email", "tester@example.com")
    git(path, "config", "commit.gpgsign", "false")
    return path


def write(root: Path, rel: str, data: str | bytes) -> Path:
    target = root / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data.encode() if isinstance(data, str) else data)
    return target


def write_json(root: Path, rel: str, doc: Any) -> Path:
    return write(root, rel, json.dumps(doc, indent=2) + "\n")


def commit_all(root: Path, message: str = "commit", date: str = DATE) -> str:
    git(root, "add", "-A")
    git(root, "commit", "-q", "--no-verify", "-m", message, date=date)
    return git(root, "rev-parse", "HEAD")


def experiment(
    exp_id: str,
    *,
    study: str = STUDY,
    status: str = "success",
    sub_step: int | None = 5,
    tags: tuple[str, ...] = ("task1",),
    doc_id: str | None = None,
) -> dict[str, Any]:
    params: dict[str, Any] = {"lr": 0.001}
    if sub_step is not None:
        params["Args/--sub_step"] = sub_step
    return {
        "schema": "expflow/experiment@1",
        "id": doc_id or exp_id,
        "study": study,
        "title": f"run {exp_id}",
        "created_at": "2026-11-20T09:00:00Z",
        "tags": list(tags),
        "status": status,
        "seed": 1837261,
        "params": params,
    }


def result(
    exp_id: str, metrics: Mapping[str, float], splits: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "schema": "expflow/result@1",
        "experiment": exp_id,
        "recorded_at": "2026-11-20T10:00:00Z",
        "metrics": dict(metrics),
    }
    if splits is not None:
        doc["splits"] = dict(splits)
    return doc


def add_run(
    root: Path,
    exp_id: str,
    metrics: Mapping[str, float] | None = None,
    *,
    study: str = STUDY,
    splits: Mapping[str, Any] | None = None,
    **record: Any,
) -> None:
    """An experiment record and (unless metrics is None) its result."""
    write_json(
        root, f"experiments/{study}/{exp_id}.json", experiment(exp_id, study=study, **record)
    )
    if metrics is not None:
        write_json(root, f"results/{study}/{exp_id}.json", result(exp_id, metrics, splits))


def m(seg: float, pde: float = 15.0, minutes: float = 45.0, **more: float) -> dict[str, float]:
    return {"seg_total": seg, "pde_mean": pde, "train_time_min": minutes, **more}


def new_repo(path: Path, policy: str = POLICY) -> Path:
    init_repo(path)
    write(path, "expflow.yaml", policy)
    return path


def seed_repo(path: Path) -> Path:
    """The seed example (expflow_git.demo), committed with fixed dates."""
    from expflow_git.demo import build_repo

    path.mkdir(parents=True)
    build_repo(path)
    # An identity of its own: `audit --note` commits a note, and a fresh machine has none.
    git(path, "config", "user.name", "Expflow Tester")
    git(path, "config", "user.email", "tester@example.com")
    return path


def copy_repo(src: Path, dest: Path) -> Path:
    shutil.copytree(src, dest, symlinks=True)
    return dest


# ----------------------------------------------------------------------------- the CLI


Out = CliResult


def run_cli(args: list[str], cwd: Path, env: Mapping[str, str] | None = None) -> Out:
    """The real CLI as a subprocess: `python -m expflow_git ARGS`, fixed identity and dates."""
    return support_run_cli(args, cwd, clean_env(env))


Cli = CliCall


def make_cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Cli:
    """`expflow_git.cli.main(args)` in-process, run from `cwd`, output captured, in the
    scrubbed environment. Each test module wraps this in its own `xcli` fixture."""
    scrub_process_env(monkeypatch)
    monkeypatch.delenv("EXPFLOW_HOME", raising=False)
    for name in [k for k in os.environ if k.startswith("GIT_")]:
        monkeypatch.delenv(name, raising=False)
    return in_process_cli(monkeypatch, capsys)


def assert_one_error_line(res: Out, code: int, *needles: str) -> None:
    """A user-facing error: the exit code, nothing on stdout, one stderr line naming it."""
    assert res.code == code, res
    assert res.out == "", res
    lines = res.err.strip("\n").split("\n")
    assert len(lines) == 1, res.err
    assert lines[0].startswith("expflow-git: error: "), res.err
    assert "Traceback" not in res.err
    for needle in needles:
        assert needle in lines[0], (needle, res.err)


# ----------------------------------------------------------------------------- reports


def b64d(text: str) -> bytes:
    text = text.replace("-", "+").replace("_", "/")
    return base64.b64decode(text + "=" * (-len(text) % 4))


def b64e(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def statement_of(report: bytes | str) -> dict[str, Any]:
    """The in-toto Statement inside a report envelope (no checks: that is verify's job)."""
    env = json.loads(report)
    statement: dict[str, Any] = json.loads(b64d(env["payload"]))
    return statement


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 PAE, written here independently of the product."""
    t = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(payload), payload)


def envelope_bytes(
    payload: bytes, signatures: list[dict[str, str]], ptype: str = PAYLOAD_TYPE
) -> bytes:
    """A canonical envelope, the way the tool writes one (JCS + newline)."""
    doc = {"payload": b64e(payload), "payloadType": ptype, "signatures": signatures}
    return bytes(rfc8785.dumps(doc)) + b"\n"


def reseal(statement: Mapping[str, Any], key: Any | None, keyid: str | None = None) -> bytes:
    """Re-canonicalise `statement` and sign it with `key` (an Ed25519PrivateKey) or not at all."""
    payload = bytes(rfc8785.dumps(statement))
    sigs = []
    if key is not None:
        from expflow_git.report.signing import keyid as kid

        sig = key.sign(pae(PAYLOAD_TYPE, payload))
        sigs.append({"keyid": keyid or kid(key.public_key()), "sig": b64e(sig)})
    return envelope_bytes(payload, sigs)


def findings_of(statement: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [e for e in statement["predicate"]["entries"] if e["type"] == "finding"]


def runs_of(statement: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [e for e in statement["predicate"]["entries"] if e["type"] == "run"]


def rules_of(statement: Mapping[str, Any]) -> dict[str, list[str]]:
    """{rule: [paths]} of the report's findings."""
    out: dict[str, list[str]] = {}
    for f in findings_of(statement):
        out.setdefault(f["rule"], []).append(f["path"])
    return out
