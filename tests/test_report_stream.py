"""The streamed report equals the reference encoding, and the view rendered while
auditing equals the view of the saved report."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from expflow_git.demo import build_repo
from expflow_git.gitstore import Git
from expflow_git.report import encode
from expflow_git.report.canonical import canonical_json
from expflow_git.report.dsse import PAYLOAD_TYPE, Envelope, encode_envelope, pae
from expflow_git.report.signing import keygen, load_private_key, verify_signature

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    repo = tmp_path_factory.mktemp("demo") / "repo"
    repo.mkdir()
    build_repo(repo)
    return repo


def test_streamed_envelope_is_the_reference_encoding(
    demo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from expflow_git.audit.pipeline import run_audit

    keygen(str(tmp_path / "k"))
    key = load_private_key(str(tmp_path / "k"))
    # Small chunks exercise the chunked base64 path on a small report.
    monkeypatch.setattr(encode, "_B64_CHUNK", 3 * 7)
    report = encode.build_report(run_audit(Git.discover(demo)), key=key)
    payload = bytes(report.payload)
    assert verify_signature(key.public_key(), report.signatures[0].sig, pae(PAYLOAD_TYPE, payload))
    assert report.to_bytes() == encode_envelope(Envelope(PAYLOAD_TYPE, payload, report.signatures))
    assert canonical_json(report.statement()) == payload


@pytest.mark.parametrize("fmt", ["text", "md"])
def test_audit_output_equals_rendering_the_saved_report(
    demo: Path, tmp_path: Path, fmt: str
) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = tmp_path / "r.json"

    def run(*args: str) -> str:
        proc = subprocess.run(
            [sys.executable, "-m", "expflow_git", *args],
            cwd=demo,
            env=env,
            capture_output=True,
            text=True,
        )
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    live = run("audit", "--out", str(out), "--format", fmt, "--html", str(tmp_path / "a.html"))
    saved = run("report", str(out), "--format", fmt, "--html", str(tmp_path / "b.html"))
    assert live == saved and "exp-001" in live
    assert (tmp_path / "a.html").read_bytes() == (tmp_path / "b.html").read_bytes()
