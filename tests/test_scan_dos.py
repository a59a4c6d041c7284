"""The PIN scan takes time linear in a line's length (issue 14 item 11).

The issue's input, `"pin_hash=x " * N` on one line, took 1.3 s at 110 KB, 20 s at
440 KB and 239 s at 1.76 MB; the audit scans every blob up to 8 MiB. These tests
run it (and lines built to make other parts of a value re-read the rest of the
line) through the real CLI; they finish in seconds. No timing assertion: the
subprocess runs have run_cli's 120 s timeout, which the old scanner overran.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest
from conftest import SEED_METRICS, ExpRepo, assert_clean_output, run_cli

pytestmark = pytest.mark.usefixtures("isolated_env")

UNIT = "pin_hash=x "


@pytest.mark.parametrize("size", [110_000, 440_000, 1_760_000])
def test_the_issue_line_scans_in_linear_time(exp_repo: ExpRepo, size: int) -> None:
    n = size // len(UNIT)
    exp_repo.write("long.env", UNIT * n)
    code, out, err = run_cli(["scan", "long.env"], cwd=exp_repo.path)
    assert_clean_output(out, err)
    assert code == 1
    lines = out.splitlines()
    assert len(lines) == n  # every assignment on the line, each once
    assert lines[0] == "long.env:1:10: pin-assignment: pin_hash assigned a value (masked)"
    assert lines[-1].startswith(f"long.env:1:{(n - 1) * len(UNIT) + 10}: ")


def test_the_audit_scans_the_long_line_too(exp_repo: ExpRepo) -> None:
    exp_repo.write("long.env", UNIT * (1_760_000 // len(UNIT)))
    exp_repo.commit("long line")
    code, out, err = run_cli(["audit", "--no-cache"], cwd=exp_repo.path)
    assert_clean_output(out, err)
    assert code == 1
    assert "long.env:1:10: pin-assignment" in out


PIN_SHA = hashlib.sha256(b"1234").hexdigest()

# Each unit makes a part of the old value parser read to the end of the line (or
# scan every earlier hit) for every key on it.
ADVERSARIAL = [
    ("pin_hash=$(x ", 1),  # `$(...)` looked for the line's last ')'
    ("pin_hash=${{ ", 1),  # `${{ ... }}` looked for the next '}'
    ("pin_hash=${X:? ", 1),
    ("pin_hash={{ ", 0),  # `{{ ... }}` looked for the last '}}'
    ("pin_hash: | #", 0),  # a block scalar's opening line, re-read per key
    (f"pin_hash={PIN_SHA} ", 1),  # each assignment was compared with every hash
    ("--pin 1234 ", 1),
    ('"pin": {"hash": "x", ', 1),
    ("-----BEGIN RSA PRIVATE KEY-----\n", 0),
]


@pytest.mark.parametrize(("unit", "per_unit"), ADVERSARIAL, ids=[u for u, _ in ADVERSARIAL])
def test_adversarial_lines_scan_in_linear_time(
    exp_repo: ExpRepo, cli, unit: str, per_unit: int
) -> None:
    n = 440_000 // len(unit)
    exp_repo.write("long.yaml", unit * n)
    res = cli(["scan", "long.yaml"], cwd=exp_repo.path)
    assert res.code == (1 if per_unit else 0), res.err
    assert len(res.out.splitlines()) == per_unit * n


# A key block's header lines padded with blanks (or carriage returns) and no body: the
# old pattern let a header's value and the line break both take a trailing blank, so a
# failed 150-byte block with eight such headers backtracked (n + 1)^8 times and hung the
# hook and the action's audit (an attacker's hunt, issue 18 seventeenth pass).
PADDED_HEADERS = [
    "-----BEGIN RSA PRIVATE KEY-----\n" + f"A:{pad * 40}\n" * 8 + "x\n"
    for pad in (" ", "\t", "\r", " \r")
]


@pytest.mark.parametrize("block", PADDED_HEADERS, ids=["blank", "tab", "cr", "blank-cr"])
def test_key_headers_padded_with_blanks_scan_in_linear_time(exp_repo: ExpRepo, block: str) -> None:
    exp_repo.write("notes.txt", block * 200)
    exp_repo.commit("notes")
    code, out, err = run_cli(["scan", "notes.txt"], cwd=exp_repo.path)
    assert_clean_output(out, err)
    assert (code, out) == (0, ""), err
    code, out, err = run_cli(["audit", "--no-cache"], cwd=exp_repo.path)
    assert_clean_output(out, err)
    assert "verdict: " in out and "notes.txt" not in out, out + err  # no run: FAIL


@pytest.mark.parametrize("end", ["\r\n", "\r\r\n", "\r \n", " \t\r\n"])
def test_a_key_with_blank_padded_headers_is_still_found(exp_repo: ExpRepo, end: str) -> None:
    """Trailing blanks and carriage returns, an indented body: each header value ends in
    a non-blank now, and the blanks are the line break's (`\\r\\r\\n` was lost by the
    first rewrite; the review)."""
    key = (
        f"-----BEGIN RSA PRIVATE KEY-----  {end}"
        f"Proc-Type: 4,ENCRYPTED \t{end}"
        f"DEK-Info: AES-128-CBC,0123456789ABCDEF  {end}"
        f"   {end}"
        f"  MIIEpAIBAAKCAQEAx1234567890abcdef{end}"
        f"  abcd==  {end}"
        f"  -----END RSA PRIVATE KEY-----{end}"
    )
    exp_repo.write("id_rsa.txt", key)
    code, out, err = run_cli(["scan", "id_rsa.txt"], cwd=exp_repo.path)
    assert code == 1 and out.startswith("id_rsa.txt:1:1: private-key"), out + err


def test_a_pin_digest_in_a_path_is_masked_in_every_scan_finding(exp_repo: ExpRepo) -> None:
    """The name finding masked the digest, and the content finding of the same file on
    the next line printed it (`scan --staged`, the audit's text and GitHub annotations:
    the CI log; an attacker's hunt, issue 18 seventeenth pass)."""
    digest = PIN_SHA
    exp_repo.write(f"notes/{digest}.txt", "EXPFLOW_PIN=1234\n")
    exp_repo.git("add", "-A")
    code, out, err = run_cli(["scan", "--staged"], cwd=exp_repo.path)
    assert code == 1 and "notes/****.txt:1:13: pin-assignment" in out, out + err
    assert digest not in out + err and digest[:12] not in out + err
    exp_repo.commit("a leak")
    for fmt in ("text", "github", "md", "sarif"):
        code, out, err = run_cli(["audit", "--no-cache", "--format", fmt], cwd=exp_repo.path)
        shown = "notes/%2A%2A%2A%2A.txt" if fmt == "sarif" else "notes/****.txt"
        assert code == 1 and out.count(shown) >= 2, out + err  # both findings
        assert digest not in out + err and digest[:12] not in out + err, fmt


def test_a_document_quoting_a_pin_digest_is_masked_in_every_finding(exp_repo: ExpRepo) -> None:
    """A schema message cut a quoted value at 60 characters: 58 hex digits of a PIN's
    digest (one PIN in 10,000) and the start of the tool's own hash reached the hook's
    and the CI log's lines, where the scan's own finding masked them; a metric named by
    the digest was printed whole in the pointer and the message (an attacker's hunt,
    issue 18 twenty-second pass)."""
    from expflow_git.pin.store import hash_pin

    own_hash = hash_pin(str(4000 + 821))
    # a digest that starts with a letter: a metric's name (the schema asks for one)
    digests = (hashlib.sha256(str(4000 + k).encode()).hexdigest() for k in range(100))
    name = next(d for d in digests if d[0] in "abcdef")
    exp_repo.add_experiment("exp-001", seed=own_hash)
    exp_repo.add_result("exp-001", metrics={**SEED_METRICS, "seg_total": PIN_SHA})
    exp_repo.add_experiment("exp-002")
    exp_repo.add_result("exp-002", metrics={**SEED_METRICS, name: 3})
    # a PIN is one only beside its key: the value was quoted alone (a review)
    exp_repo.add_experiment("exp-003")
    exp_repo.add_result("exp-003", metrics={**SEED_METRICS, "pin": str(4000 + 821)})
    exp_repo.git("add", "-A")
    secrets = (PIN_SHA[:12], name[:12], own_hash[own_hash.rindex("$") - 12 :], f'"{4000 + 821}"')
    code, out, err = run_cli(["validate", "--staged"], cwd=exp_repo.path)
    assert code == 1 and out.count("****") == 5, out + err  # 3 schema values, a name twice
    assert not any(s in out + err for s in secrets), out + err
    exp_repo.commit("quoted")
    for fmt in ("text", "github", "md", "sarif", "json"):
        code, out, err = run_cli(["audit", "--no-cache", "--format", fmt], cwd=exp_repo.path)
        if fmt == "json":  # the signed statement
            out = base64.b64decode(json.loads(out)["payload"]).decode()
        assert code == 1 and "****" in out, fmt
        assert not any(s in out + err for s in secrets), fmt


def test_a_split_named_by_a_pin_digest_stays_out_of_the_report_and_its_note(
    exp_repo: ExpRepo, tmp_path: Path
) -> None:
    """A split's name may be 64 characters: a PIN's SHA-256 named one, and the signed
    report's run entry and the git note pushed with it carried the digest the file's own
    finding masks (an attacker's hunt, issue 18 twenty-third pass)."""
    exp_repo.add_experiment("exp-001")
    exp_repo.add_result("exp-001", splits={PIN_SHA: {"seg_total": 4}, "holdout": {"seg_total": 5}})
    exp_repo.commit("split")
    report = tmp_path / "report.json"
    for cache in (["--no-cache"], [], []):  # cold, then writing the cache, then warm
        code, out, err = run_cli(
            ["audit", *cache, "--out", str(report), "--note"],
            cwd=exp_repo.path,
        )
        assert code == 1 and "pin-sha256" in out, out + err  # the finding fails the audit
        for signed in (report.read_text(), exp_repo.git("notes", "--ref", "expflow", "show")):
            statement = base64.b64decode(json.loads(signed)["payload"]).decode()
            assert PIN_SHA[:12] not in statement
            (run,) = [
                e for e in json.loads(statement)["predicate"]["entries"] if e["type"] == "run"
            ]
            assert run["splits"] == {"holdout": {"seg_total": 5}}
        assert PIN_SHA[:12] not in out + err
    res = run_cli(["verify", str(report), "--repo", ".", "--allow-unsigned"], cwd=exp_repo.path)
    assert res.code == 0 and "VERIFIED" in res.out, res


@pytest.mark.parametrize(
    ("pointer", "message", "shown"),
    [
        ("/metrics/pin", '"{pin}" is not of type "number"', '"****" is not of type "number"'),
        ("/splits/pin/value", '"{pin}" is not of type "number"', '"****" is not of type "number"'),
        ("/x/pin", "pin: {pin}", "pin: ****"),  # a message that names its key itself
        ("/x/EXPFLOW_PIN", "EXPFLOW_PIN: {pin}", "EXPFLOW_PIN: ****"),
        ("/x/pin_hash", "must be a string", "must be a string"),  # no value first: as is
        ("/metrics/loss", '"{pin}" is not of type "number"', '"{pin}" is not of type "number"'),
    ],
)
def test_a_findings_message_is_read_under_its_pointers_pin_keys(
    pointer: str, message: str, shown: str
) -> None:
    """A value is a PIN only beside its key: a schema message at `/splits/pin/value`
    quoted it, and the first framing of a message under its key hid the key and showed
    the PIN, or took a message's first word for the value (two reviews)."""
    from expflow_git.errors import Finding

    pin = str(4000 + 821)
    finding = Finding("r.json", "schema", message.format(pin=pin), pointer)
    assert finding.message == shown.format(pin=pin)


def test_free_text_the_scan_flags_is_masked_in_every_output_of_the_audit(
    exp_repo: ExpRepo, tmp_path: Path
) -> None:
    """A failed run's reason, a correction's reason and author, and a rule's detail
    quoting a param were printed whole by the audit (text, md, GitHub annotations,
    SARIF, the signed report and the scorecard) while its scan finding masked the same
    PIN (an attacker's hunt, issue 18 twenty-second pass)."""
    pin = str(4000 + 821)
    exp_repo.add_experiment("exp-001")
    res = exp_repo.add_result("exp-001")
    exp_repo.add_experiment("exp-002", params={"Args/--sub_step": f"5 --pin {pin}"})
    exp_repo.add_result("exp-002")
    exp_repo.add_experiment("exp-003", status="failed", reason=f"train.py --pin {pin} exited 1")
    base = exp_repo.commit("runs")
    old = exp_repo.git("rev-parse", f"HEAD:{res}").strip()
    exp_repo.add_result("exp-001", metrics={**SEED_METRICS, "seg_total": 57.1})
    new = exp_repo.git("hash-object", res).strip()
    correction = {
        "schema": "expflow/correction@1",
        "experiment": "exp-001",
        "supersedes": old,
        "blob": new,
        "reason": f"rerun with --pin {pin}",
        "author": {"name": f"--pin {pin}", "email": "t@example.com"},
        "time": "2026-11-21T10:00:00Z",
    }
    exp_repo.write_json("corrections/c1.json", correction)
    exp_repo.commit("a correction")
    report, page = tmp_path / "report.json", tmp_path / "card.html"
    for fmt in ("text", "github", "md", "sarif"):
        args = ["audit", "--no-cache", "--since", base, "--format", fmt]
        code, out, err = run_cli(
            [*args, "--out", str(report), "--html", str(page)], cwd=exp_repo.path
        )
        assert code == 1 and "pin-value" in out, out + err  # the scan's own findings
        shown = out + page.read_text()
        shown += base64.b64decode(json.loads(report.read_text())["payload"]).decode()
        assert pin not in shown, fmt
        if fmt == "text":  # the texts are there, masked
            assert "train.py --pin **** exited 1" in out and "rerun with --pin ****" in out
            assert "sub_step = '5 --pin ****' not > 0" in out


# Two more found by a hunt for superlinear scans (issue 18, seventeenth pass): a `pin`
# key inside a YAML node property (`&pin:`) walked the rest of the line's properties
# again for each key on it, and a TOML table header's blanks could go to the prefix or
# before it, each way re-reading the line. 24 KB took 18 s and 40 KB 24 s; these are
# ten times larger (killed at 120 s on the old code).
LINE_REREADS = [
    ("pin: " + "&pin: " * 60_000 + "\n", "yaml-anchors"),
    ("pin: {hash: " + "&hash: " * 60_000 + "\n", "flow-anchors"),
    ("[pin]\n[" + " " * 200_000 + "." * 200_000 + "\n", "toml-header"),
]


@pytest.mark.parametrize("text", [t for t, _ in LINE_REREADS], ids=[i for _, i in LINE_REREADS])
def test_properties_and_table_headers_scan_in_linear_time(exp_repo: ExpRepo, text: str) -> None:
    exp_repo.write("config.yaml", text)
    code, out, err = run_cli(["scan", "config.yaml"], cwd=exp_repo.path)
    assert_clean_output(out, err)
    assert (code, out) == (0, ""), err


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("pin: &a !t &b 1234\n", "pin-value"),
        ("x: &pin: &pin: 1\npin: &p 1234\n", "pin-value"),
        ("pin: {hash: &h !t 0123456789abcdef0123456789abcdef}\n", "pin-assignment"),
    ],
)
def test_a_pin_after_node_properties_is_still_found(
    exp_repo: ExpRepo, text: str, rule: str
) -> None:
    exp_repo.write("config.yaml", text)
    code, out, err = run_cli(["scan", "config.yaml"], cwd=exp_repo.path)
    assert code == 1 and f": {rule}: " in out, out + err


# A YAML `pin:` mapping may open a list item (`- - pin:`) and carry node properties
# (`pin: &a !!map`) now (an attacker's hunt, issue 18 twenty-second pass): near-misses of
# 200 KB, a line that fails only at its end, are given up in linear time.
YAML_OPENER_NEAR_MISSES = [
    ("- " * 100_000 + "pin: x\n", "list-indicators"),
    ("-  " * 66_000 + "pin :x\n", "wide-list-indicators"),
    ("pin:" + " &a !t" * 33_000 + " x\n", "properties"),
    ("- pin:" + "\t&\t!" * 50_000 + "\tx\n", "tab-properties"),
    ("- - pin: &a\n" * 18_000, "openers"),
]


# A private key's line break may be a blank line or a double-quoted YAML fold (`\n\`, the
# break, the indent), and a BEGIN or END line's blank a fold too (an attacker's hunt, issue
# 18 twenty-second pass). Blocks of 200 KB that fail only at their end (no END line, or
# another key's) are given up in linear time.
_BEGIN = "-----BEGIN RSA PRIVATE KEY-----"
_LINE = "QUJD" * 16
KEY_NEAR_MISSES = [
    (_BEGIN + "\n" + " \n" * 100_000, "blank-lines"),
    (_BEGIN + "\n" + " \r\n\r\n" * 40_000, "crlf-blank-lines"),
    ((_BEGIN + "\n\n" + ("    " + _LINE + "\n\n") * 40 + "    x\n") * 70, "single-quoted"),
    (('"' + _BEGIN + "\\n\\\n    " + (_LINE + "\\n\\\n    ") * 40 + 'x"\n') * 60, "folds"),
    (('"' + _BEGIN + "\\r\\\n    \\n" + (_LINE + "\\r\\\n    \\n") * 40 + 'x"\n') * 60, "crlf"),
    (_BEGIN + "\\n" + "\\\n" * 100_000, "fold-runs"),
    (_BEGIN + "\n" + _LINE + "\n-----END" + "\\\n  \\ A" * 25_000 + "\n", "end-line-folds"),
    ("-----BEGIN" + "\n A" * 60_000 + " PRIVATE\n", "begin-line-folds"),
    (
        (
            "-----BEGIN A PRIVATE KEY-----\n"
            + "A:-----BEGIN B PRIVATE KEY-----\n" * 8
            + "\n"
            + (_LINE + "\n") * 30
            + "-----END C PRIVATE KEY-----\n"
        )
        * 80,
        "keys-in-headers",
    ),
    ((_BEGIN + "\n" + ("A:" + "\\\n \\ " * 40 + "\n") * 8 + "x\n") * 60, "folded-headers"),
]


# A YAML key that begins and ends its line reads its value on a line below, past blank
# and comment lines (an attacker's hunt, issue 18 twenty-second pass): one key a line at
# most does, so keys in comments, keys over long runs of comment lines, and unclosed
# quoted values of 200 KB scan in linear time.
VALUE_BELOW_NEAR_MISSES = [
    ("pin_hash: #" + " pin_hash: #" * 16_000 + "\n" * 10_000 + "  a b\n", "keys-in-a-comment"),
    (("pin_hash:\n" + "  # pin_hash:\n" * 20) * 700, "comment-runs"),
    ("- " * 50_000 + "pin_hash:\n" + "\n" * 100_000 + "  a b\n", "list-items"),
    ("pin_hash:\n  '" + "''" * 100_000 + "\n", "unclosed-single-quotes"),
    ('pin_hash:\n  "' + "\\\\" * 100_000 + "\n", "unclosed-double-quotes"),
    ("pin:\n  value:\n" * 20_000, "children"),
]


# A value between triple quotes is read up to the next quote only (an attacker's hunt,
# issue 18 twenty-second pass): keys whose strings are left open, or closed by one quote,
# scan in linear time.
TRIPLE_QUOTE_LINES = [
    ('pin_hash = """x ' * 12_000, 1),  # each value runs to the next key's quotes
    ('pin_hash = """x" ' * 12_000, 0),
    ("pin_hash = '''" + "x" * 200_000, 0),
    ('pin_hash = """' + '\\"' * 100_000, 0),
]


@pytest.mark.parametrize(
    ("line", "found"), TRIPLE_QUOTE_LINES, ids=["open", "one-quote", "long", "escapes"]
)
def test_triple_quoted_values_scan_in_linear_time(exp_repo: ExpRepo, line: str, found: int) -> None:
    exp_repo.write("conf.toml", line + "\n")
    code, out, err = run_cli(["scan", "conf.toml"], cwd=exp_repo.path)
    assert_clean_output(out, err)
    assert code == (1 if found else 0), err


# The tool's hash format with its `$` escaped (`$$`, `\$`; an attacker's hunt, issue 18
# twenty-second pass): near-misses of 200 KB scan in linear time.
ESCAPED_FORMAT_NEAR_MISSES = [
    ("expflow$$scrypt$$" + "n" * 200_000 + "$x\n", "long-params"),
    ("expflow$$scrypt$$p$$" + "A" * 200_000 + "$$x\n", "long-salt"),
    ("expflow\\$scrypt\\$p\\$" * 10_000 + "\n", "repeated"),
    ("expflow$$" * 25_000 + "\n", "prefixes"),
]


# `--pin` may take an escaped quote (`--pin \"NNNN\"`, a JSON string; an attacker's hunt,
# issue 18 twenty-second pass): lines of near-misses scan in linear time.
FLAG_NEAR_MISSES = [
    ('--pin \\"' * 40_000, "escaped-quotes"),
    ("--pin " + "\\\n" * 100_000 + '\\"123\\"', "continuations"),
    ('--pin \\"1234\\' * 20_000, "unclosed"),
]


# This pass's near-misses, each in the file it is written to, scan clean in linear time
# (run_cli's timeout would stop a polynomial scan).
SCANNED_CLEAN = [
    *(("users.yaml", t, i) for t, i in YAML_OPENER_NEAR_MISSES),
    *(("values.yaml", t, i) for t, i in KEY_NEAR_MISSES),
    *(("values.yaml", t, i) for t, i in VALUE_BELOW_NEAR_MISSES),
    *(("notes.txt", t, i) for t, i in ESCAPED_FORMAT_NEAR_MISSES),
    *(("package.json", t + "\n", i) for t, i in FLAG_NEAR_MISSES),
]


@pytest.mark.parametrize(
    ("rel", "text"), [(r, t) for r, t, _ in SCANNED_CLEAN], ids=[i for _, _, i in SCANNED_CLEAN]
)
def test_near_misses_of_the_new_spellings_scan_clean_in_linear_time(
    exp_repo: ExpRepo, rel: str, text: str
) -> None:
    exp_repo.write(rel, text)
    code, out, err = run_cli(["scan", rel], cwd=exp_repo.path)
    assert_clean_output(out, err)
    assert (code, out) == (0, ""), err
