"""Ctrl-C (SIGINT) and SIGTERM in the middle of a command: one line and the shell's exit
code, and what the command writes whole or not at all. Each signal is sent by the
command's own process at a known point (after a given file is renamed or deleted, or as a
given module is first imported), never after a delay: the test cannot miss the window."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest
from conftest import ExpRepo
from support import run_cli_code

pytestmark = [
    pytest.mark.usefixtures("isolated_env"),
    pytest.mark.skipif(not hasattr(signal, "pthread_sigmask"), reason="POSIX signals"),
]

METRICS = ["--metric", "seg_total=58", "--metric", "pde_mean=14", "--metric", "train_time_min=40"]

# `python -c SIGNAL_AFTER FUNC SUFFIX SIGNAL ARGS…`: the CLI (`main()`, as the console
# script runs it) with os.FUNC sending SIGNAL to this process once, right after the first
# call whose path (a rename's target) ends with SUFFIX returns. `SIGNAL@thread`: sent to
# another thread of the process instead (the system may give a signal to any thread that
# does not block it), and waited for until that thread has taken it: its Python handler
# is then due in the main thread.
SIGNAL_AFTER = """
import os, signal, sys, threading
name, suffix, signame = sys.argv[1:4]
del sys.argv[1:4]
signame, _, where = signame.partition("@")
sig = getattr(signal, signame)
if where == "thread":
    idle = threading.Thread(target=threading.Event().wait, daemon=True)
    idle.start()
    taken, wake = os.pipe()
    os.set_blocking(wake, False)
    signal.set_wakeup_fd(wake)
real = getattr(os, name)
sent = []
def hooked(*args, **kwargs):
    answer = real(*args, **kwargs)
    path = os.fspath(args[1] if name in ("replace", "rename", "link") else args[0])
    if not sent and path.endswith(suffix):
        sent.append(path)
        if where == "thread":
            signal.pthread_kill(idle.ident, sig)
            os.read(taken, 1)  # (its C handler wrote the signal's number)
        else:
            os.kill(os.getpid(), sig)
    return answer
setattr(os, name, hooked)
from expflow_git.cli import main
raise SystemExit(main())
"""

# `python -c SIGNAL_AT_IMPORT MODULE SIGNAL ARGS…`: the CLI, sent SIGNAL as MODULE is
# first looked for (inside its import).
SIGNAL_AT_IMPORT = """
import os, signal, sys
module, signame = sys.argv[1:3]
del sys.argv[1:3]
class Interrupting:
    def find_spec(self, name, path=None, target=None):
        if name == module:
            sys.meta_path.remove(self)
            os.kill(os.getpid(), getattr(signal, signame))
        return None
sys.meta_path.insert(0, Interrupting())
from expflow_git.cli import main
raise SystemExit(main())
"""


def signalled_after(
    repo: ExpRepo, func: str, suffix: str, sig: str, args: list[str]
) -> tuple[int, str, str]:
    return run_cli_code(SIGNAL_AFTER, [func, suffix, sig, *args], repo.path)


def leftovers(root: Path) -> list[str]:
    """Temporary files a write left in the work tree."""
    return sorted(
        p.relative_to(root).as_posix()
        for p in root.rglob("*.tmp")
        if ".git" not in p.relative_to(root).parts
    )


def test_ctrl_c_inside_a_command_is_one_line_and_130(exp_repo: ExpRepo) -> None:
    """Click turned the KeyboardInterrupt into its Abort: `expflow-git: aborted` after a
    blank line, exit 2 (a usage error); main's own interruption says `interrupted`, 130."""
    exp_repo.add_experiment("x1", status="pending")
    code, out, err = signalled_after(exp_repo, "replace", "x1.json", "SIGINT", ["start", "x1"])
    assert (code, err) == (130, "expflow-git: interrupted\n"), (code, out, err)


def test_ctrl_c_as_jsonschema_rs_loads_decimal_is_a_clean_interruption(
    exp_repo: ExpRepo,
) -> None:
    """jsonschema_rs imports `decimal` as it loads and panicked when a Ctrl-C came
    meanwhile: a Rust backtrace on stderr. `decimal` is imported first, in Python."""
    exp_repo.add_experiment("x1", status="pending")
    args = ["decimal", "SIGINT", "result", "x1", *METRICS]
    code, out, err = run_cli_code(SIGNAL_AT_IMPORT, args, exp_repo.path)
    assert (code, err) == (130, "expflow-git: interrupted\n"), (code, out, err)
    assert not (exp_repo.path / exp_repo.res_path("x1")).exists()


@pytest.mark.parametrize(
    ("sig", "code", "said"), [("SIGTERM", 143, "terminated"), ("SIGINT", 130, "interrupted")]
)
def test_a_signal_between_the_record_and_the_result_waits_for_both(
    exp_repo: ExpRepo, sig: str, code: int, said: str
) -> None:
    """`result` marks the record `success`, then writes the result. A SIGTERM there killed
    the process (no handler), a Ctrl-C there was raised outside the `try` that puts the
    record back: either left a run marked `success` without a result, which `validate`
    accepts, and a SIGTERM its temporary file. Both signals now wait for the pair."""
    exp_repo.add_experiment("x1", status="pending")
    record, res = exp_repo.exp_path("x1"), exp_repo.res_path("x1")
    got = signalled_after(exp_repo, "replace", record, sig, ["result", "x1", *METRICS])
    assert got[0::2] == (code, f"expflow-git: {said}\n"), got
    assert json.loads((exp_repo.path / record).read_text())["status"] == "success"
    assert json.loads((exp_repo.path / res).read_text())["metrics"]["seg_total"] == 58
    assert leftovers(exp_repo.path) == []


def test_a_sigterm_in_an_import_leaves_each_run_whole_or_not_at_all(
    exp_repo: ExpRepo, tmp_path: Path
) -> None:
    """An import writes run by run, each whole or not at all; a SIGTERM between a run's
    record and its result killed the process and left the record alone."""
    rows = "".join(f"r{n},{50 + n},14,40\n" for n in range(4))
    csv = tmp_path / "runs.csv"
    csv.write_text("run,seg_total,pde_mean,train_time_min\n" + rows)
    args = ["import", "csv", str(csv), "--id-column", "run", "--study", "imp"]
    got = signalled_after(exp_repo, "replace", "imp/r1.json", "SIGTERM", args)
    assert got[0::2] == (143, "expflow-git: terminated\n"), got
    runs = {
        n: (
            (exp_repo.path / f"experiments/imp/r{n}.json").exists(),
            (exp_repo.path / f"results/imp/r{n}.json").exists(),
        )
        for n in range(4)
    }
    assert runs == {0: (True, True), 1: (True, True), 2: (False, False), 3: (False, False)}
    assert leftovers(exp_repo.path) == []


def test_a_sigterm_is_left_alone_where_it_is_ignored(exp_repo: ExpRepo) -> None:
    """Only the default SIGTERM becomes an interruption: one ignored by whoever started
    the command stays ignored."""
    exp_repo.add_experiment("x1", status="pending")
    code = "import signal\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n" + SIGNAL_AFTER
    record = exp_repo.exp_path("x1")
    got = run_cli_code(
        code, ["replace", record, "SIGTERM", "result", "x1", *METRICS], exp_repo.path
    )
    assert got[0] == 0, got
    assert (exp_repo.path / exp_repo.res_path("x1")).exists()


@pytest.mark.parametrize("sig", ["SIGINT", "SIGINT@thread"])
def test_a_ctrl_c_between_rms_two_deletes_waits_for_both(exp_repo: ExpRepo, sig: str) -> None:
    """`rm` deletes the result, then the record: a Ctrl-C between them left the record,
    marked `success`, without its result (beside the correction of the committed one).
    It waits for both, also when the system gives the signal to another thread: Python
    runs the handler in the main thread all the same, where the mask blocks nothing."""
    record, res = exp_repo.add_experiment("x1"), exp_repo.add_result("x1")
    exp_repo.commit("a run")
    args = ["rm", "x1", "--reason", "withdrawn", "--force"]
    code, out, err = signalled_after(exp_repo, "unlink", res, sig, args)
    assert (code, err.splitlines()[-1:]) == (130, ["expflow-git: interrupted"]), (code, out, err)
    assert not (exp_repo.path / res).exists()
    assert not (exp_repo.path / record).exists()
    assert len(list((exp_repo.path / "corrections").rglob("*.json"))) == 1
    assert f"removed {res}" in out and f"removed {record}" in out, out


@pytest.mark.parametrize("written", ["/keys/k", "/keys/k.pub"])
def test_a_ctrl_c_in_keygen_leaves_neither_file(
    exp_repo: ExpRepo, tmp_path: Path, written: str
) -> None:
    """keygen cleaned up only after an OSError: a Ctrl-C once the private key was written
    left it without its `.pub`, and a rerun was refused "already exists". Interrupted,
    it leaves both files or neither."""
    out = tmp_path / "keys" / "k"
    out.parent.mkdir()
    args = ["keygen", "--out", str(out)]
    code, _, err = signalled_after(exp_repo, "link", written, "SIGINT", args)
    assert (code, err) == (130, "expflow-git: interrupted\n"), (code, err)
    assert sorted(p.name for p in out.parent.iterdir()) == []
    again = run_cli_code(SIGNAL_AFTER, ["link", "no such file", "SIGINT", *args], exp_repo.path)
    assert again[0] == 0, again
    assert sorted(p.name for p in out.parent.iterdir()) == ["k", "k.pub"]
