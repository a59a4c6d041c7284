"""Test support shared by every test module: one environment scrub, one `git()` helper,
the CLI as a subprocess (`run_cli`) and in-process (`in_process_cli`), and the calls a
patched function hears (`record_calls`), for tests that count the work done.

conftest.py builds its fixtures on these; modules import them from here (or from
conftest, which re-exports them).
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import pytest

PROJECT = Path(__file__).resolve().parents[1]

# Variables that would make git look at another repository or index (git exports them
# while hooks run), or the tool at another policy, PIN or key; the GitHub runner's own.
_GIT_SELECTORS = frozenset(
    {
        "GIT_DIR",
        "GIT_WORK_TREE",
        "GIT_INDEX_FILE",
        "GIT_OBJECT_DIRECTORY",
        "GIT_ALTERNATE_OBJECT_DIRECTORIES",
        "GIT_COMMON_DIR",
        "GIT_PREFIX",
        "GIT_NAMESPACE",
    }
)
_KEPT = frozenset({"EXPFLOW_HOME"})  # the isolated_env fixture points it at a private folder

IDENTITY = {
    "GIT_AUTHOR_NAME": "Expflow Tester",
    "GIT_AUTHOR_EMAIL": "tester@example.com",
    "GIT_COMMITTER_NAME": "Expflow Tester",
    "GIT_COMMITTER_EMAIL": "tester@example.com",
}

# Commits without signing, whatever the user's git configuration says.
NO_SIGNING = {
    "GIT_CONFIG_COUNT": "1",
    "GIT_CONFIG_KEY_0": "commit.gpgsign",
    "GIT_CONFIG_VALUE_0": "false",
}


def is_leaky(name: str) -> bool:
    """Whether the scrub drops variable `name` (see `scrubbed_env`)."""
    if name in _KEPT:
        return False
    return (
        name in _GIT_SELECTORS
        or name.startswith(("EXPFLOW_", "GITHUB_"))
        or name in ("NO_COLOR", "FORCE_COLOR")
    )


def shows(secret: str, text: str) -> bool:
    """Whether `text` shows `secret` outside the hex digits of an object id or digest: a
    commit's id (from the clock) holds a 4-digit PIN's digits about once in 1,800 runs,
    which is no leak."""
    return secret in re.sub(r"[0-9a-f]{7,}", "-", text)


def scrubbed_env(
    extra: Mapping[str, str] | None = None, *, base: Mapping[str, str] | None = None
) -> dict[str, str]:
    """`base` (os.environ) without repository selectors, EXPFLOW_* (but EXPFLOW_HOME) and
    GITHUB_* settings, plus `extra`."""
    env = {k: v for k, v in (os.environ if base is None else base).items() if not is_leaky(k)}
    env.update(extra or {})
    return env


def scrub_process_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same scrub applied to this process (for in-process CLI calls and git)."""
    for name in [k for k in os.environ if is_leaky(k)]:
        monkeypatch.delenv(name, raising=False)


def run_git(
    cwd: Path,
    *args: str,
    env: Mapping[str, str] | None = None,
    date: str | None = None,
    input: bytes | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run git in `cwd` under the scrubbed environment plus `env`, whatever it returns;
    with `date`, a fixed identity and that author and committer date (so commits are the
    same on every run). Output is text (undecodable bytes kept as surrogates)."""
    extra = dict(env or {})
    if date is not None:
        extra = {**IDENTITY, "GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date, **extra}
    proc = subprocess.run(
        ["git", *args],
        cwd=cwd,
        env=scrubbed_env(extra),
        input=input if input is not None else b"",
        capture_output=True,
        timeout=120,
        check=False,
    )
    decode = lambda data: data.decode("utf-8", "surrogateescape")  # noqa: E731
    return subprocess.CompletedProcess(
        proc.args, proc.returncode, decode(proc.stdout), decode(proc.stderr)
    )


def git(
    cwd: Path,
    *args: str,
    env: Mapping[str, str] | None = None,
    check: bool = True,
    date: str | None = None,
    input: bytes | None = None,
) -> str:
    """`run_git`'s stdout, stripped; with check, a failure fails the test with git's message."""
    proc = run_git(cwd, *args, env=env, date=date, input=input)
    if check:
        assert proc.returncode == 0, f"git {' '.join(args)} failed: {proc.stderr}"
    return proc.stdout.strip()


def git_init(path: Path) -> Path:
    """`git init` with a local identity and no signing."""
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", "main")
    git(path, "config", "user.name", IDENTITY["GIT_AUTHOR_NAME"])
    git(path, "config", "user.email", IDENTITY["GIT_AUTHOR_EMAIL"])
    git(path, "config", "commit.gpgsign", "false")
    return path


class CliResult(NamedTuple):
    """What a CLI run gave: the exit code and the two streams."""

    code: int
    out: str
    err: str

    @property
    def both(self) -> str:
        return self.out + self.err


def run_cli(
    args: list[str],
    cwd: Path,
    env: Mapping[str, str] | None = None,
    input: str | None = None,
    timeout: float = 120,
    prefix: Sequence[str] = (),
) -> CliResult:
    """Run the real CLI (`python -m expflow_git ARGS`) in `cwd`, without a terminal;
    under `prefix`, a command that runs what follows it (`read_only_bind`'s)."""
    proc = subprocess.run(
        [*prefix, sys.executable, "-m", "expflow_git", *args],
        cwd=cwd,
        env=scrubbed_env(env),
        input=input if input is not None else "",
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


CliCall = Callable[..., CliResult]


def in_process_cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> CliCall:
    """`expflow_git.cli.main(args)` in this process, run from `cwd` with `env` added,
    output captured (fast; what a subprocess would see, but for the terminal)."""
    from expflow_git.cli import main

    def call(args: list[str], cwd: Path, env: Mapping[str, str] | None = None) -> CliResult:
        capsys.readouterr()  # drop anything earlier
        with monkeypatch.context() as m:
            m.chdir(cwd)
            for key, value in (env or {}).items():
                m.setenv(key, value)
            code = main(list(args))
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return call


class GitCall(NamedTuple):
    """One git process a command started: who started it (pid, command line) and git's
    arguments."""

    pid: int
    parent: str
    args: str


def record_calls(
    monkeypatch: pytest.MonkeyPatch, owner: object, name: str
) -> list[tuple[Any, ...]]:
    """Patch `owner.name` (a module's function, or a class's method: `self` is then the
    first argument) to record each call's positional arguments, in order, and call the
    original; the list the calls are recorded in is returned."""
    real = getattr(owner, name)
    calls: list[tuple[Any, ...]] = []

    def recorded(*args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, recorded)
    return calls


class ComparedStrings:
    """Makes strings (`of`) that count how often they are compared for equality, in
    `compared`: a list's `count` and `index` compare every item, a dict's look-up by
    hash compares none."""

    def __init__(self) -> None:
        self.compared = 0
        maker = self

        class Counted(str):
            def __eq__(self, other: object) -> bool:
                maker.compared += 1
                return str.__eq__(self, other) is True

            __hash__ = str.__hash__

        self.of = Counted


def git_counter(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """A `git` first on PATH that logs each call, then runs the real one: the environment
    that puts it there, and the log (read it with `git_calls`). The parent's command
    line comes from /proc (Linux; empty elsewhere).

    Git puts its exec path first on PATH for the hooks it runs, so the wrapper's folder
    is also the exec path: git's own helpers linked in beside it, a hook's `git` is the
    wrapper too.
    """
    real = shutil.which("git")
    assert real
    exec_path = Path(
        subprocess.run(
            [real, "--exec-path"], capture_output=True, text=True, check=True
        ).stdout.strip()
    )
    bindir = tmp_path / "counted-git"
    bindir.mkdir()
    for helper in exec_path.iterdir():
        if helper.name != "git":
            (bindir / helper.name).symlink_to(helper)
    log = tmp_path / "git-calls.log"
    wrapper = bindir / "git"
    wrapper.write_text(
        "#!/bin/sh\n"
        "parent=$(tr '\\000' ' ' < /proc/$PPID/cmdline 2>/dev/null)\n"
        # Hooks run in parallel and a long line is written in parts: one writer at a
        # time (the lock is let go before git runs, so a nested git is never blocked).
        f'exec 9>>"{log}"\n'
        "command -v flock >/dev/null 2>&1 && flock 9\n"
        'printf \'%s\\t%s\\t%s\\n\' "$PPID" "$parent" "$*" >&9\n'
        "exec 9>&-\n"
        f'exec "{real}" "$@"\n'
    )
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    return {"PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}", "GIT_EXEC_PATH": str(bindir)}, log


def git_calls(log: Path) -> list[GitCall]:
    """The calls `git_counter`'s git logged, in order (none if it was never run)."""
    if not log.exists():
        return []
    calls = []
    for line in log.read_text(errors="surrogateescape").splitlines():
        pid, parent, args = line.split("\t", 2)
        calls.append(GitCall(int(pid), parent.strip(), args))
    return calls


def pre_commit_install(path: Path, env: Mapping[str, str], *args: str) -> None:
    """`pre-commit install` (this interpreter's pre-commit) in the repository at `path`;
    `args` are passed on (`-c CONFIG`). Fails the test, with pre-commit's output, if it
    fails."""
    proc = subprocess.run(
        [sys.executable, "-m", "pre_commit", "install", *args],
        cwd=path,
        env=scrubbed_env(env),
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


# Runs the CLI in-process and prints every module loaded by its end (a hook's imports are
# a guarantee: test_validate_cli.py, test_validate_startup.py).
LIST_MODULES = (
    "import sys\n"
    "from expflow_git.cli import main\n"
    "code = main(sys.argv[1:])\n"
    "print('\\n'.join(sorted(sys.modules)))\n"
    "raise SystemExit(code)\n"
)


def run_cli_code(
    code: str, args: list[str], cwd: Path, env: Mapping[str, str] | None = None
) -> tuple[int, str, str]:
    """`python -c CODE ARGS` in `cwd`, as `run_cli` runs the CLI: (code, stdout, stderr)."""
    proc = subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=cwd,
        env=scrubbed_env(env),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return proc.returncode, proc.stdout, proc.stderr


def ssh_keygen_key(path: Path, comment: str = "alice") -> Path:
    """An unencrypted ed25519 key pair made by ssh-keygen itself, at `path` (and
    `path.pub`)."""
    keygen = shutil.which("ssh-keygen")
    assert keygen is not None
    subprocess.run(
        [keygen, "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
        check=True,
        capture_output=True,
    )
    return path


def ssh_ed25519_key(work: Path) -> tuple[Path, str]:
    """A new ssh-keygen Ed25519 key in `work` (`id`, `id.pub`): its private key's path,
    and its public key as an allowed_signers line holds it (`ssh-ed25519 AAAA…`)."""
    key = ssh_keygen_key(work / "id", comment="a")
    return key, " ".join(Path(f"{key}.pub").read_text().split()[:2])


def ssh_keygen_verdict(
    key: Path, allowed: Path, work: Path, principal: str, when: str
) -> tuple[bool, str]:
    """Whether `ssh-keygen -Y verify -n expflow-git` verifies, at time `when`, a message
    signed with `key` for `principal` under the allowed_signers file `allowed`, and what
    it said: the reference an allowed_signers line is judged against. The message and
    its signature are made once in `work`."""
    keygen = shutil.which("ssh-keygen")
    assert keygen is not None
    message = work / "msg"
    if not message.exists():
        message.write_bytes(b"expflow-git interop")
        subprocess.run(
            [keygen, "-Y", "sign", "-q", "-n", "expflow-git", "-f", str(key), str(message)],
            check=True,
            capture_output=True,
        )
    theirs = subprocess.run(
        [keygen, "-Y", "verify", "-n", "expflow-git", "-I", principal, "-f", str(allowed)]
        + ["-s", f"{message}.sig", "-O", f"verify-time={when}"],
        input=message.read_bytes(),
        capture_output=True,
    )
    return theirs.returncode == 0, theirs.stderr.decode()


def read_only_bind(folder: Path) -> list[str] | None:
    """A command prefix that runs what follows it with `folder` mounted read-only (`unshare
    -m`: in a mount namespace of its own, nothing else sees it), where this machine
    allows one; None where it does not (run as root, chmod makes nothing read-only)."""
    unshare = shutil.which("unshare")
    if unshare is None or not hasattr(os, "geteuid") or os.geteuid() != 0:
        return None
    prefix = [unshare, "-m", "sh", "-c", 'mount --bind -o ro "$1" "$1" && shift && exec "$@"']
    prefix += ["sh", str(folder)]
    probe = subprocess.run(
        [*prefix, "sh", "-c", ': > "$0/probe"', str(folder)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    return prefix if "Read-only file system" in probe.stderr else None


def demo_repository(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`expflow-git demo`'s repository, built in a new folder (a module fixture's body)."""
    base = tmp_path_factory.mktemp("demo") / "here"
    res = run_cli(["demo", "--dir", str(base)], base.parent)
    assert res.code == 0, res
    return base / "repo"


def private_key_pem() -> str:
    """A new Ed25519 private key as PEM text (PKCS#8, unencrypted), its ends stripped."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return pem.decode().strip()


def on_a_terminal(
    cwd: Path, args: Sequence[str], env: Mapping[str, str], typed: str
) -> tuple[int, str, str]:
    """The CLI with a terminal (a pty) as stdin, in a session of its own (no controlling
    terminal: no prompt reaches the one running the tests); `typed` is typed there once
    a PIN prompt shows on stderr (the hidden prompt flushes what was typed before).
    Returns (exit code, stdout, stderr)."""
    import pty
    import select
    import time

    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "expflow_git", *args],
        cwd=cwd,
        env=dict(env),
        stdin=follower,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    assert proc.stderr is not None
    err = b""
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            if not select.select([proc.stderr], [], [], 0.2)[0]:
                if proc.poll() is not None:
                    break
                continue
            chunk = os.read(proc.stderr.fileno(), 65536)
            if not chunk:  # the command is done
                break
            err += chunk
            if typed and b"PIN to approve" in err and err.endswith(b": "):
                os.write(leader, typed.encode())
                typed = ""
        out, rest = proc.communicate(timeout=max(deadline - time.monotonic(), 1))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        os.close(follower)
        os.close(leader)
    return proc.returncode, out.decode("utf-8"), (err + rest).decode("utf-8")
