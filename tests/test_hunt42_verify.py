"""An attacker's hunt of signed reports and their verification (issue 18, forty-second
pass): `audit --previous` and `verify --chain`, and `verify --repo` of a report judged by
a policy whose file name is not UTF-8."""

# The fixtures `repo` and `xcli` are imported from test_hunt38_verify, and test parameters
# of those names receive them (not a redefinition).
# ruff: noqa: F811

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers_audit import Cli, assert_one_error_line, commit_all
from test_hunt38_verify import repo, xcli  # noqa: F401 (fixtures: parameters of these names)


def _keygen(xcli: Cli, tmp_path: Path, name: str) -> Path:
    key = tmp_path / name
    assert xcli(["keygen", "--out", str(key)], tmp_path).code == 0
    return key


# ------------------------------- audit --previous: an envelope verify --chain refuses


@pytest.mark.parametrize("how", ["pretty-printed", "without its final newline", "keys reordered"])
@pytest.mark.parametrize("signed", [True, False])
def test_a_previous_report_whose_envelope_is_not_canonical_is_refused(
    xcli: Cli, repo: Path, tmp_path: Path, how: str, signed: bool
) -> None:
    """§6.3: "The audit refuses (exit 2, before it runs) a link §6.4 item 6 would refuse";
    item 6 verifies every link, and item 1 holds its envelope to "its canonical bytes".
    The previous report's payload was held to its canonical form, its envelope was not:
    a report pretty-printed (`jq .`), cut of its final newline or with its keys
    reordered was chained to, signed, exit 0, and `verify --chain` with that file then
    failed ("envelope is not in canonical form")."""
    key = _keygen(xcli, tmp_path, "k")
    sign = ["--sign-key", str(key)] if signed else []
    first = tmp_path / "r0.json"
    assert xcli(["audit", *sign, "--out", str(first)], repo).code == 0
    envelope = json.loads(first.read_bytes())
    if how == "pretty-printed":
        data = json.dumps(envelope, indent=2) + "\n"
    elif how == "without its final newline":
        data = first.read_text().rstrip("\n")
    else:
        data = json.dumps(dict(reversed(envelope.items())), separators=(",", ":")) + "\n"
    chain = tmp_path / "chain"
    chain.mkdir()
    previous = chain / "r0.json"
    previous.write_text(data)
    out = chain / "r1.json"
    res = xcli(["audit", *sign, "--previous", str(previous), "--out", str(out)], repo)
    assert_one_error_line(res, 2, str(previous), "not in canonical form")
    assert not out.exists()
    # What the refusal spares: the link to that file never verifies.
    assert xcli(["audit", *sign, "--previous", str(first), "--out", str(out)], repo).code == 0
    trust = ["--public-key", f"{key}.pub"] if signed else ["--allow-unsigned"]
    res = xcli(["verify", str(out), *trust, "--repo", str(repo), "--chain", str(chain)], repo)
    assert res.code == 1 and "envelope is not in canonical form" in res.out, res
    # The file the audit wrote still chains, and verifies.
    previous.write_bytes(first.read_bytes())
    res = xcli(["verify", str(out), *trust, "--repo", str(repo), "--chain", str(chain)], repo)
    assert res.code == 0, res


# ----------------------------- verify --repo: a policy file whose name is not UTF-8


@pytest.mark.parametrize("ref", [False, True])
def test_a_report_judged_by_a_policy_named_with_a_byte_that_is_not_utf8_verifies(
    xcli: Cli, repo: Path, tmp_path: Path, ref: bool
) -> None:
    """§6.4 items 4 and 5: the policy blob matches and the audit re-run at the commit gives
    byte-identical entries. The report spells the policy's path as every path, a byte
    that is not UTF-8 as the text `\\udcff`, and `verify --repo` looked that text up as
    the file's name: the audit's own report of a commit judged by `--policy
    $'pol\\xff.yaml'` failed (`blobs: policy blob of pol\\udcff.yaml does not match`,
    `recompute: ... no policy file`), with `--policy-ref` too."""
    name = b"pol\xff.yaml"
    (repo / name.decode("utf-8", "surrogateescape")).write_bytes(
        (repo / "expflow.yaml").read_bytes()
    )
    commit_all(repo, "a policy of its own name")
    policy = name.decode("utf-8", "surrogateescape")
    args = ["--policy", policy, *(["--policy-ref", "HEAD"] if ref else [])]
    out = tmp_path / "r.json"
    res = xcli(["audit", *args, "--out", str(out)], repo)
    assert res.code == 0, res
    res = xcli(["verify", str(out), "--allow-unsigned", "--repo", str(repo)], repo)
    assert res.code == 0, res
    assert "ok   recompute" in res.out, res
    assert "policy pol\\udcff.yaml" in res.out or "policy pol\\xff.yaml" in res.out, res
