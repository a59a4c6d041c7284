"""The bundled schemas work in standard tools: check-jsonschema, given a schema file,
accepts the documents the tool writes (its cross-file `$ref`s resolve from the schema
folder, offline) and refuses a broken one; the tool's own loader stays offline."""

from __future__ import annotations

import base64
import json
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import PROJECT, ExpRepo, git_env

from expflow_git import schemas
from expflow_git.errors import ExpflowError
from expflow_git.schemas import Kind

SCHEMAS = PROJECT / "schemas"
STUDY = "pdebench-task1"
EXP = f"experiments/{STUDY}/exp-001.json"
RES = f"results/{STUDY}/exp-001.json"


def _check_jsonschema() -> str | None:
    beside = Path(sys.executable).with_name("check-jsonschema")
    return str(beside) if beside.exists() else shutil.which("check-jsonschema")


CHECK_JSONSCHEMA = _check_jsonschema()
needs_check_jsonschema = pytest.mark.skipif(
    CHECK_JSONSCHEMA is None,
    reason="check-jsonschema is not installed (pip install -e '.[test]')",
)


def check_jsonschema(schema: str, document: Path, tmp: Path) -> subprocess.CompletedProcess[str]:
    """check-jsonschema on `document`, with any download bound to fail (a dead proxy)."""
    assert CHECK_JSONSCHEMA is not None
    dead = "http://127.0.0.1:9"
    env = git_env(
        {
            "HTTP_PROXY": dead,
            "HTTPS_PROXY": dead,
            "http_proxy": dead,
            "https_proxy": dead,
            "NO_PROXY": "",
            "no_proxy": "",
            "XDG_CACHE_HOME": str(tmp / "cache"),
        }
    )
    return subprocess.run(
        [CHECK_JSONSCHEMA, "--no-cache", "--schemafile", str(SCHEMAS / schema), str(document)],
        cwd=tmp,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def written(committed_repo: ExpRepo, cli: Any) -> ExpRepo:
    """A repository whose record, result and signed report the tool wrote itself."""
    repo = committed_repo
    res = cli(
        [
            "new",
            "exp-001",
            "--study",
            STUDY,
            "--param",
            "Args/--sub_step=5",
            "--tag",
            "fno",
            "--title",
            "FNO baseline",
        ],
        cwd=repo.path,
    )
    assert res.code == 0, res.both
    res = cli(
        [
            "result",
            "exp-001",
            "--metric",
            "seg_total=57.09",
            "--metric",
            "pde_mean=15",
            "--metric",
            "train_time_min=45.5",
            "--split",
            "holdout",
            "--metric",
            "seg_total=55.2",
        ],
        cwd=repo.path,
    )
    assert res.code == 0, res.both
    repo.commit("run exp-001")
    res = cli(["audit", "--out", "report.json"], cwd=repo.path)
    assert res.code == 0, res.both
    envelope = json.loads((repo.path / "report.json").read_text())
    repo.write("statement.json", base64.b64decode(envelope["payload"]))
    return repo


@needs_check_jsonschema
@pytest.mark.parametrize(
    ("schema", "document"),
    [
        ("experiment.schema.json", EXP),
        ("result.schema.json", RES),
        ("policy.schema.json", "expflow.yaml"),
        ("report.schema.json", "statement.json"),
    ],
)
def test_check_jsonschema_accepts_what_the_tool_writes(
    written: ExpRepo, tmp_path: Path, schema: str, document: str
) -> None:
    proc = check_jsonschema(schema, written.path / document, tmp_path)
    assert (proc.returncode, proc.stdout.strip()) == (0, "ok -- validation done"), proc.stderr


@needs_check_jsonschema
def test_check_jsonschema_follows_the_result_schemas_ref_into_the_experiment_schema(
    written: ExpRepo, tmp_path: Path
) -> None:
    """result.schema.json takes `provenance` from experiment.schema.json by a relative
    `$ref`: a bad timestamp there is caught, so the sibling file was found and read."""
    doc = json.loads((written.path / RES).read_text())
    doc["provenance"] = {"captured_at": "yesterday"}
    bad = written.write("bad.json", json.dumps(doc))
    proc = check_jsonschema("result.schema.json", bad, tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "$.provenance.captured_at: 'yesterday' does not match" in proc.stdout, proc.stdout


def test_no_bundled_schema_refers_outside_the_schema_folder() -> None:
    """Every `$ref` is local (`#…`) or a sibling file: nothing to fetch, for anyone."""
    siblings = {path.name for path in SCHEMAS.glob("*.schema.json")}

    def refs(node: Any) -> list[str]:
        if isinstance(node, dict):
            own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
            return own + [r for value in node.values() for r in refs(value)]
        return [r for value in node for r in refs(value)] if isinstance(node, list) else []

    for path in SCHEMAS.glob("*.schema.json"):
        schema = json.loads(path.read_text())
        assert "$id" not in schema, path  # an absolute $id would send siblings to the network
        for ref in refs(schema):
            assert ref.startswith("#") or ref.split("#")[0] in siblings, (path.name, ref)


def test_the_loader_refuses_a_remote_ref_without_touching_the_network(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for path in SCHEMAS.glob("*.schema.json"):
        shutil.copy(path, tmp_path / path.name)
    result = json.loads((tmp_path / "result.schema.json").read_text())
    result["properties"]["provenance"] = {"$ref": "https://example.com/provenance.json"}
    (tmp_path / "result.schema.json").write_text(json.dumps(result))

    def no_network(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the schema loader opened a connection")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(schemas, "schema_dir", lambda: tmp_path)
    caches = (schemas.load_schema, schemas.validator, schemas.fast_validator)
    for cached in caches:
        cached.cache_clear()
    try:
        doc = {
            "schema": "expflow/result@1",
            "experiment": "exp-001",
            "recorded_at": "2026-11-20T11:02:00Z",
            "metrics": {"m": 1},
            "provenance": {},
        }
        with pytest.raises(Exception) as refused:  # python-jsonschema wraps our refusal
            schemas.validator(Kind.RESULT).is_valid(doc)
        chain: list[BaseException] = [refused.value]
        while chain[-1].__cause__ is not None:
            chain.append(chain[-1].__cause__)
        assert (
            "refusing to fetch remote $ref 'https://example.com/provenance.json'"
            in [str(exc) for exc in chain if isinstance(exc, ExpflowError)][0]
        )
        with pytest.raises(ValueError, match="example.com"):  # jsonschema-rs, offline
            schemas.fast_validator(Kind.RESULT)
    finally:  # the next test builds its validators from the bundled schemas again
        for cached in caches:
            cached.cache_clear()


@needs_check_jsonschema
def test_check_jsonschema_accepts_a_correction_the_tool_writes(
    written: ExpRepo, cli: Any, tmp_path: Path
) -> None:
    """correction.schema.json takes the id and the timestamp from experiment.schema.json
    by relative `$ref`s: a correction `result --overwrite` wrote passes, a broken one not."""
    written.commit("result")
    res = cli(
        [
            "result",
            "exp-001",
            "--overwrite",
            "--reason",
            "fix",
            "--force",
            "--metric",
            "seg_total=57.1",
            "--metric",
            "pde_mean=15",
            "--metric",
            "train_time_min=45.5",
        ],
        cwd=written.path,
    )
    assert res.code == 0, res.both
    [path] = sorted((written.path / "corrections").rglob("*.json"))
    proc = check_jsonschema("correction.schema.json", path, tmp_path)
    assert (proc.returncode, proc.stdout.strip()) == (0, "ok -- validation done"), proc.stderr
    doc = json.loads(path.read_text())
    doc["time"] = "yesterday"
    bad = written.write("bad.json", json.dumps(doc))
    proc = check_jsonschema("correction.schema.json", bad, tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "$.time: 'yesterday' does not match" in proc.stdout, proc.stdout
