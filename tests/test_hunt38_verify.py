"""An attacker's hunt of signed reports and their verification (issue 18, thirty-eighth
pass): `verify`, `audit --previous`, DSSE, canonical JSON, the chain, allowed_signers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import rfc8785
from helpers_audit import (
    Cli,
    add_run,
    assert_one_error_line,
    commit_all,
    envelope_bytes,
    m,
    make_cli,
    new_repo,
    statement_of,
)


@pytest.fixture
def xcli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Cli:
    return make_cli(monkeypatch, capsys)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = new_repo(tmp_path / "repo")
    (root / ".git" / "info" / "exclude").write_text("*.json.out\n")
    add_run(root, "a", m(50))
    commit_all(root, "C0")
    return root


def _unsigned_report(xcli: Cli, repo: Path, tmp_path: Path) -> bytes:
    out = tmp_path / "r0.json"
    res = xcli(["audit", "--out", str(out)], repo)
    assert res.code == 0, res
    return out.read_bytes()


# ------------------------------------------------ audit --previous: a file that is no report


def _broken_previous(report: bytes, how: str) -> bytes:
    statement = statement_of(report)
    if how == "not JSON":
        return report[: len(report) // 2]  # a download cut short
    if how == "two envelopes":
        return report + report
    if how == "payload not canonical":
        return envelope_bytes(json.dumps(statement).encode(), [])
    if how == "another payloadType":
        return envelope_bytes(bytes(rfc8785.dumps(statement)), [], ptype="text/plain")
    statement["predicate"]["chain"]["seq"] = "x"  # "payload breaks the schema"
    return envelope_bytes(bytes(rfc8785.dumps(statement)), [])


@pytest.mark.parametrize(
    "how",
    [
        "not JSON",
        "two envelopes",
        "payload not canonical",
        "payload breaks the schema",
        "another payloadType",
    ],
)
def test_a_previous_file_that_is_no_report_is_a_usage_error_naming_it(
    xcli: Cli, repo: Path, tmp_path: Path, how: str
) -> None:
    """`audit --previous OLD.json` refuses, exit 2, a link `verify --chain` would refuse
    (README); a previous report whose signature fails was exit 2, but one that was no
    report at all (a download cut short, a payload not canonical or breaking the schema)
    exit 1, as if the audited data failed the policy, and for the payload's problems the
    line did not name the file (`expflow-git: error: payload is not in RFC 8785
    canonical form`); an unsigned audit chained to an envelope of another payloadType,
    exit 0, a link `verify --chain` refuses."""
    previous = tmp_path / "old.json"
    previous.write_bytes(_broken_previous(_unsigned_report(xcli, repo, tmp_path), how))
    out = tmp_path / "r1.json"
    res = xcli(["audit", "--previous", str(previous), "--out", str(out)], repo)
    assert_one_error_line(res, 2, str(previous))
    assert not out.exists()


# ------------------------------------------- a PEM key file holding more than one key


def _pem(public: object) -> bytes:
    from cryptography.hazmat.primitives import serialization

    assert hasattr(public, "public_bytes")
    return bytes(
        public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )


def _other_key_lines() -> tuple[bytes, bytes]:
    """A second Ed25519 public key, as PEM and as an OpenSSH line."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    other = Ed25519PrivateKey.generate().public_key()
    line = other.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    return _pem(other), line + b"\n"


@pytest.mark.parametrize("after", ["a second PEM key", "an ssh-ed25519 line", "text"])
def test_a_pem_key_file_with_more_after_its_key_is_refused(
    xcli: Cli, repo: Path, tmp_path: Path, after: str
) -> None:
    """§6.4 item 1: a key file that is no Ed25519 public key is an error (exit 2), "a
    second line" among them (trust.at_ref: it is what a key tampered with looks like, and
    skipping it would hide that). An `ssh-ed25519` file with a second line is refused, but
    a PEM file's first key was trusted and whatever followed it (a second key, an
    OpenSSH line, any text) silently ignored, at --trusted-ref and in --public-key."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    pem, line = _other_key_lines()
    extra = {"a second PEM key": pem, "an ssh-ed25519 line": line, "text": b"appended\n"}[after]
    key = Ed25519PrivateKey.generate()
    keyfile = repo / ".expflow" / "keys" / "ci.pub"
    keyfile.parent.mkdir(parents=True)
    keyfile.write_bytes(_pem(key.public_key()) + extra)
    commit_all(repo, "keys")
    report = tmp_path / "r.json"
    report.write_bytes(b"{}\n")
    res = xcli(["verify", str(report), "--public-key", str(keyfile)], tmp_path)
    assert_one_error_line(res, 2, str(keyfile))
    res = xcli(["verify", str(report), "--trusted-ref", "main"], repo)
    assert res.code == 2 and res.out == "", res
    assert "main:.expflow/keys/ci.pub: " in res.err, res


# ----------------------------------- allowed_signers times ssh-keygen carries over


SIGNERS_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHyZ0VmigrL/32u9blXABGAgTryXomOTm931FlbI/hWk"
# ssh-keygen's parse_absolute_time is glibc's strptime (a day up to 31 in any month, a
# second up to 61), then timegm: what lies past the month's or the minute's end carries.
CARRIED = [
    ('valid-before="20270229Z"', 2027, 3, 1, 0, 0, 0),
    ('valid-before="20261131Z"', 2026, 12, 1, 0, 0, 0),
    ('valid-after="20260231UTC"', 2026, 3, 3, 0, 0, 0),
    ('valid-after="20261120095960Z"', 2026, 11, 20, 10, 0, 0),
    ('valid-after="20261120095961Z"', 2026, 11, 20, 10, 0, 1),
]


@pytest.mark.parametrize(("option", "y", "mo", "d", "h", "mi", "s"), CARRIED)
def test_an_allowed_signers_time_past_the_months_end_carries_over_as_in_ssh_keygen(
    tmp_path: Path, option: str, y: int, mo: int, d: int, h: int, mi: int, s: int
) -> None:
    """§6.4 item 1 reads allowed_signers as OpenSSH does; Python's strptime refused a
    day past the month's end and a leap second, so `valid-before="20270229Z"`, a line
    ssh-keygen (and git) use, stopped every `verify` with the file (exit 2)."""
    import calendar

    from expflow_git.report.allowed_signers import load_allowed_signers

    path = tmp_path / "allowed_signers"
    path.write_text(f"alice {option} {SIGNERS_KEY}\n")
    (trusted,) = load_allowed_signers(str(path)).keys
    expected = calendar.timegm((y, mo, d, h, mi, s))
    assert expected in (trusted.valid_after, trusted.valid_before)


@pytest.mark.parametrize(
    "value", ["20261320Z", "20261100Z", "20261132Z", "20261120240000Z", "20261120106000Z"]
)
def test_a_field_out_of_strptimes_range_is_still_refused(tmp_path: Path, value: str) -> None:
    from expflow_git.errors import ExitCode, ExpflowError
    from expflow_git.report.allowed_signers import load_allowed_signers

    path = tmp_path / "allowed_signers"
    path.write_text(f'alice valid-after="{value}" {SIGNERS_KEY}\n')
    with pytest.raises(ExpflowError) as info:
        load_allowed_signers(str(path))
    assert info.value.message == f"{path}:1: valid-after: not a date"
    assert info.value.code == ExitCode.USAGE


@pytest.mark.ssh_keygen
@pytest.mark.parametrize(
    "option",
    [c[0] for c in CARRIED]
    + ['valid-after="20261120100062Z"', 'valid-after="20261132Z"']
    + ['valid-before="20261120095959Z"'],
)
def test_the_decision_is_ssh_keygen_s(tmp_path: Path, option: str) -> None:
    from support import ssh_ed25519_key, ssh_keygen_verdict

    from expflow_git.errors import ExpflowError
    from expflow_git.report.allowed_signers import load_allowed_signers

    key, public = ssh_ed25519_key(tmp_path)
    allowed = tmp_path / "allowed_signers"
    allowed.write_text(f"alice {option} {public}\n")
    when = 1795168800  # 2026-11-20T10:00:00Z, the time ssh-keygen is asked about
    try:
        ours = any(k.valid_at(when) for k in load_allowed_signers(str(allowed)).keys)
    except ExpflowError:
        ours = False
    theirs, said = ssh_keygen_verdict(key, allowed, tmp_path, "alice", "20261120100000Z")
    assert ours is theirs, (option, said)


# ------------------------------------------- `report` names a way it has to go on


def test_report_of_an_unsigned_report_given_a_key_names_no_option_it_lacks(
    xcli: Cli, repo: Path, tmp_path: Path
) -> None:
    """`report R --public-key K` of an unsigned report refuses to render it (exit 1), as it
    should, but said `report is UNSIGNED (pass --allow-unsigned to accept)`: `report` has
    no such option (`No such option: --allow-unsigned`, exit 2)."""
    _unsigned_report(xcli, repo, tmp_path)
    key = tmp_path / "k"
    assert xcli(["keygen", "--out", str(key)], tmp_path).code == 0
    res = xcli(["report", str(tmp_path / "r0.json"), "--public-key", f"{key}.pub"], tmp_path)
    assert res.code == 1 and res.out == "", res
    assert "FAIL signature: report is UNSIGNED" in res.err, res
    assert "--allow-unsigned" not in res.err, res
    assert "without --public-key and --allowed-signers" in res.err, res
    res = xcli(["report", str(tmp_path / "r0.json")], tmp_path)
    assert res.code == 0, res
