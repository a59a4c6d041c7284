"""The GitHub Action's script (`python -m expflow_git.action`), run by action.yml.

Inputs arrive only as environment variables (EXPFLOW_INPUT_*), never spliced
into shell. On pull_request events the PR's head commit is audited, not the
synthetic merge commit GitHub checks out.

What the job reports comes only from this run: any file at `report-path` or
`html-path` is removed before the audit (a pull request could have committed
a passing report there), and when the audit writes no report the summary says
it did not complete and `passed` is false. History is checked by default: since
the pull request's fork point from its base; on a push, since the pushed branch left
the default branch, or (a push to the default branch) since the commit it replaced.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from expflow_git.errors import ExitCode, ExpflowError, mask_secrets, printable
from expflow_git.escape import github_data

if TYPE_CHECKING:
    from expflow_git.gitstore import Git

# A pull request's events; any other event whose payload carries a pull request (as
# `pull_request_review` and `pull_request_review_comment` do) is judged as one too: on a
# review the action audited the merge commit by the pull request's own policy, with no
# history check, and passed a rewritten result (an attacker's hunt).
PR_EVENTS = ("pull_request", "pull_request_target")
PR_BASE = ("pull_request", "base", "sha")
ZERO_SHA = re.compile(r"0+")
# What GitHub puts in an event for a commit (SHA-1, or SHA-256 repositories).
SHA = re.compile(r"[0-9a-f]{40}([0-9a-f]{24})?")
FETCH_HINT = "check out with `fetch-depth: 0` (actions/checkout)"


def _event(env: Mapping[str, str]) -> Mapping[str, Any]:
    """The event payload GitHub wrote (GITHUB_EVENT_PATH); empty if there is none."""
    try:
        event = json.loads(Path(env["GITHUB_EVENT_PATH"]).read_text())
    except (KeyError, OSError, ValueError):
        return {}
    return event if isinstance(event, dict) else {}


def _sha_at(event: Mapping[str, Any], *keys: str) -> str | None:
    """The commit id at event[k1][k2]…, if it is one."""
    value: Any = event
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return value if isinstance(value, str) and SHA.fullmatch(value) else None


def _of_pull_request(env: Mapping[str, str]) -> bool:
    """Whether the run was triggered by a pull request (PR_EVENTS)."""
    if env.get("GITHUB_EVENT_NAME") in PR_EVENTS:
        return True
    pull_request = _event(env).get("pull_request")
    return env.get("GITHUB_EVENT_NAME") != "merge_group" and isinstance(pull_request, dict)


def pr_head_sha(env: Mapping[str, str]) -> str | None:
    """The head commit of the pull request that triggered the run, if any."""
    if not _of_pull_request(env):
        return None
    return _sha_at(_event(env), "pull_request", "head", "sha")


def pr_base_sha(env: Mapping[str, str]) -> str | None:
    """The base commit of the pull request that triggered the run (of the merge queue
    group, on merge_group), if any: its policy judges the pull request's commits."""
    name = env.get("GITHUB_EVENT_NAME")
    if name == "merge_group":
        return _sha_at(_event(env), "merge_group", "base_sha")
    if _of_pull_request(env):
        return _sha_at(_event(env), *PR_BASE)
    return None


def default_since(env: Mapping[str, str], git: Git, rev: str) -> tuple[str | None, str]:
    """The commit history is checked since when the `since` input is empty, and why.

    A pull request: where its head left the base branch (the merge base of the base
    commit and the head; the base commit itself once the PR is up to date); a merge
    queue's group likewise from its `base_sha`. A push to a branch other than the
    repository's default branch (or a new branch): where it left the default branch, as
    a pull request from it would be checked. A push to the default branch: the commit the
    push replaced (`before`), which the previous push's check judged. A commit the event
    names but the clone lacks is an error, never a silently skipped history check.
    """
    event = _event(env)
    name = env.get("GITHUB_EVENT_NAME")
    if name == "merge_group" or _of_pull_request(env):
        keys = ("merge_group", "base_sha") if name == "merge_group" else PR_BASE
        base = _sha_at(event, *keys)
        if base is None:
            raise ExpflowError(f"the event names no base commit ({'.'.join(keys)})")
        _require_commit(git, base, "the base commit")
        fork = _merge_base(git, base, rev)
        if fork is None:
            raise ExpflowError(
                f"the audited commit and its base {base[:12]} share no history; {FETCH_HINT}"
            )
        return fork, f"where it left its base {base[:12]}"
    if name == "push":
        before = _sha_at(event, "before")
        if before is None or ZERO_SHA.fullmatch(before):
            return _new_branch_base(git, rev, event)
        # Not `before` on another branch: nothing says it was audited and passed. A push
        # whose check failed left it in place, and the next push, checked since it, passed
        # the rewrite the failed one brought (a review). The default branch's commits are
        # those the checks of its pushes (and pull requests) judged.
        default = _default_branch(event)
        if default is None:  # (GitHub's push events always name it: a review)
            raise ExpflowError(
                "the push event names no default branch (repository.default_branch), so "
                "where the pushed branch left it is unknown: set the `since` input"
            )
        if event.get("ref") != f"refs/heads/{default}":
            return _pushed_branch_base(git, rev, event, default)
        forced = event.get("forced") is True
        _require_commit(
            git,
            before,
            "the commit this push replaced",
            hint=(
                "the push was forced, and the commit it replaced cannot be fetched: set the "
                "`since` input to the commit to check the history from"
                if forced
                else FETCH_HINT
            ),
        )
        if not git.is_ancestor(before, rev):
            if git.is_shallow():  # (behind the cut: no ancestor; a review)
                raise ExpflowError(
                    f"the commit this push replaced {before[:12]} is not in the history "
                    f"this shallow clone holds; {FETCH_HINT}"
                )
            # What the discarded commits committed is in no range from here: a result they
            # published could come back changed, checked since the merge base (a review).
            how = "was forced" if forced else "does not hold the commit it replaced"
            raise ExpflowError(
                f"the push to {printable(default)} {how}: {before[:12]} is not in the "
                "pushed history, and what the discarded commits published would go "
                "unjudged; set the `since` input to the commit to check the history from"
            )
        return before, "the commit this push replaced"
    return None, f"a {name or 'manual'} event names no earlier commit"


def _default_branch(event: Mapping[str, Any]) -> str | None:
    """The repository's default branch, as the push event names it."""
    repository = event.get("repository")
    default = repository.get("default_branch") if isinstance(repository, dict) else None
    return default if isinstance(default, str) and default else None


def _default_tip(git: Git, default: str) -> str | None:
    """The default branch's tip as actions/checkout fetches it (its remote-tracking ref)."""
    try:
        return git.resolve_commit(f"refs/remotes/origin/{default}").sha
    except ExpflowError:
        return None


def _merge_base(git: Git, one: str, other: str) -> str | None:
    """The merge base of two commits; None when they share no history."""
    try:
        # (Not the commit-graph's word: git.is_ancestor's reason.)
        found = git.run("-c", "core.commitGraph=false", "merge-base", one, other)
    except ExpflowError:
        return None
    return found.decode("ascii").strip() or None


def _new_branch_base(git: Git, rev: str, event: Mapping[str, Any]) -> tuple[str, str]:
    """A new branch's push: since where it left the repository's default branch (its
    remote-tracking ref, as actions/checkout fetches it), else the whole history from
    git's empty tree. Never another branch: one the same push made holds the same
    commits, and a rewrite measured from it was "nothing new" (a review). A new branch
    had no history check at all before, so a rewrite on it, or a key its first commit
    added and the next deleted, passed."""
    from expflow_git.gitstore import EMPTY_TREES

    sha = git.resolve_commit(rev).sha
    default = _default_branch(event)
    if default is not None and event.get("ref") != f"refs/heads/{default}":
        tip = _default_tip(git, default)
        fork = _merge_base(git, tip, sha) if tip is not None else None
        if fork:
            return fork, f"a new branch: where it left {printable(default)}"
    return EMPTY_TREES[len(sha)], "a new branch: nothing it shares with the default branch"


def _pushed_branch_base(
    git: Git, rev: str, event: Mapping[str, Any], default: str
) -> tuple[str, str]:
    """A push to a branch that is not the default branch: since where the pushed commit
    left the default branch (the merge base with its remote-tracking ref, as a pull
    request's check takes it), else (no shared history) the whole history from git's
    empty tree. A default branch the clone lacks is an error: `before` is no fallback."""
    from expflow_git.gitstore import EMPTY_TREES

    sha = git.resolve_commit(rev).sha
    ref = event.get("ref")
    branch = printable(ref.removeprefix("refs/heads/")) if isinstance(ref, str) else "a branch"
    name = printable(default)
    tip = _default_tip(git, default)
    if tip is None:
        raise ExpflowError(
            f"a push to {branch} is checked since it left the default branch {name}, and "
            f"refs/remotes/origin/{name} is not in this clone; {FETCH_HINT}, or set the "
            "`since` input"
        )
    fork = _merge_base(git, tip, sha)
    if fork is None:
        return EMPTY_TREES[len(sha)], f"a push to {branch}: nothing it shares with {name}"
    return fork, f"a push to {branch}: where it left {name}"


def _require_commit(git: Git, sha: str, what: str, hint: str = FETCH_HINT) -> None:
    try:
        git.resolve_commit(sha)
    except ExpflowError:
        raise ExpflowError(f"{what} {sha[:12]} is not in this clone; {hint}") from None


def _remove_stale(path: str) -> None:
    """No file a pull request committed (or an earlier step left) is taken for this run's.

    Inside the checkout, no folder on the way may be a symbolic link: the pull request
    could commit `reports -> /somewhere` and have this run delete and write there.
    """
    from expflow_git.atomicfile import confined, kind_of, names_a_folder, written_in_place

    # The path as given, never normalised first: `reports/../r.json` was checked as
    # `r.json` while the kernel went through a committed `reports -> /somewhere` link, and
    # `.` (the checkout itself) was a crash (an attacker's hunt, issue 18 twenty-second pass).
    # `out/.` too: `Path` drops its `/.`, and the audit wrote a file `out` (thirty-eighth).
    parts = Path(path).parts
    if not parts or ".." in parts or names_a_folder(path):  # (`.` has no parts)
        raise ExpflowError(
            f"{printable(path)}: report-path and html-path must name files, without `..`"
        )
    if (inside := _inside_workspace(Path(os.path.abspath(path)).parent)) is not None:
        confined(Path.cwd(), inside)
    # What `audit --out` writes into, never replaces (a device, a pipe, the system's
    # /dev/stdout): removed here, `report-path: /dev/null` on a runner running as root
    # deleted /dev/null, and the audit put a plain file in its place (a hunt, issue 18
    # thirty-eighth pass). No report of this run can be read back from one either.
    if written_in_place(Path(path)):
        raise ExpflowError(
            f"{printable(path)}: is {kind_of(path) or 'a link of the system'}, left as it "
            "is; report-path and html-path must name files"
        )
    try:
        os.unlink(path)  # a symlink is removed, never followed
    except FileNotFoundError:
        return
    except OSError as exc:
        raise ExpflowError(
            f"{printable(path)}: cannot remove what is there before the audit "
            f"({exc.strerror}); report-path and html-path must name files"
        ) from None


def _inside_workspace(folder: Path) -> str | None:
    """`folder`'s parts inside the workspace (the working directory), as text for
    `confined`; None when it is outside, or is the workspace itself.

    Its shortest leading folders that are the workspace (the same folder, however the
    path reaches it), then the rest as written, as `policy.model.policy_in_commit` finds
    the repository's root: a self-hosted runner's `_work -> /mnt/…`, spelt as
    `${{ github.workspace }}/reports/r.json`, was taken for a path outside (the working
    directory is the real one) and went unchecked through a committed `reports ->
    /elsewhere` (an attacker's hunt). A link outside that leads into a folder of the
    workspace is refused: what it passes through there is the pull request's to make."""
    from expflow_git.atomicfile import below_root

    workspace = Path.cwd()

    def not_into_it(here: str) -> None:
        if Path(os.path.realpath(here)).is_relative_to(workspace):
            raise ExpflowError(
                f"{printable(str(folder))}: reaches into the workspace through a symbolic "
                "link; report-path and html-path must name files through real folders"
            )

    # (None when a folder is missing: nothing below it is there to go through)
    rest = below_root(str(folder), workspace, on_the_way=not_into_it)
    return os.path.join(*rest) if rest else None


def audit_args(env: Mapping[str, str], report_path: str) -> list[str]:
    """The `audit` command line the inputs and the event ask for."""
    from expflow_git.gitstore import EMPTY_TREES, Git

    git = Git.discover(Path.cwd())
    _require_pull_request_commits(env)
    head = pr_head_sha(env)
    rev = env.get("EXPFLOW_INPUT_REV") or head or "HEAD"
    if rev == head:
        _require_commit(git, head, "the pull request's head commit", hint=_head_hint(env))
    # --no-cache: the cache is local and trusted (docs/threat-model.md), and a runner's
    # workspace may hold one an earlier job (another pull request's) wrote.
    args = ["audit", "--rev", rev, "--format", "github", "--out", report_path, "--no-cache"]
    since = env.get("EXPFLOW_INPUT_SINCE")
    if not since:
        found, why = default_since(env, git, rev)
        if found is None:
            _say(f"no history check ({printable(why)}); set `since` for one")
        else:
            since = found
            what = (
                "the whole history checked"
                if since in EMPTY_TREES.values()
                else f"history checked since {printable(since[:12])}"
            )
            _say(f"{what} ({why})")
    if since:
        args += ["--since", since]
    _warn_if_behind(env, git, rev)
    for option, name in (("--policy", "POLICY"), ("--html", "HTML_PATH")):
        if value := env.get(f"EXPFLOW_INPUT_{name}"):
            args += [option, value]
    # A pull request must not bring the rules that judge it: its base's policy does.
    if policy_ref := env.get("EXPFLOW_INPUT_POLICY_REF") or pr_base_sha(env):
        args += ["--policy-ref", policy_ref]
    else:
        _line(
            "expflow-git: judged by the audited commit's own policy (a pull request is "
            "judged by its base's; set `policy-ref` for another)"
        )
    return args


def _require_pull_request_commits(env: Mapping[str, str]) -> None:
    """A pull request's (or a merge queue group's) event must name the commits the action
    takes from it, unless an input gives them: its head (the commit audited, not GitHub's
    merge commit) and its base (whose policy judges it). With `since` set, an event naming
    no base was judged by the pull request's own policy, a PIN hash its base's policy
    fails passed, and one naming no head audited the merge commit (an attacker's hunt)."""
    merge_group = env.get("GITHUB_EVENT_NAME") == "merge_group"
    if not merge_group and not _of_pull_request(env):
        return
    if not merge_group and not env.get("EXPFLOW_INPUT_REV") and pr_head_sha(env) is None:
        raise ExpflowError(
            "the event names no head commit (pull_request.head.sha) to audit: set the `rev` input"
        )
    # The base also says where the history check starts: with `policy-ref` set and
    # `since` empty, the job failed all the same, "the event names no base commit", no
    # input named (docs/spec.md §8 said `policy-ref` gives it; a hunt of §8, issue 18
    # forty-first pass). Both inputs the event's base stands for are named at once.
    missing = [
        (name, what)
        for name, given, what in (
            ("policy-ref", "POLICY_REF", "whose policy judges it"),
            ("since", "SINCE", "where its history check starts"),
        )
        if not env.get(f"EXPFLOW_INPUT_{given}")
    ]
    if missing and pr_base_sha(env) is None:
        keys = "merge_group.base_sha" if merge_group else ".".join(PR_BASE)
        why = " and ".join(what for _, what in missing)
        names = " and ".join(f"`{name}`" for name, _ in missing)
        raise ExpflowError(
            f"the event names no base commit ({keys}) {why}: set the {names} "
            f"input{'s' if len(missing) > 1 else ''}"
        )


def _head_hint(env: Mapping[str, str]) -> str:
    """How to get a pull request's head into the clone: on pull_request_target
    actions/checkout checks out the base, and `fetch-depth: 0` fetches no head of a
    fork's pull request (docs/threat-model.md); the hint said to use it all the same."""
    if env.get("GITHUB_EVENT_NAME") != "pull_request_target":
        return FETCH_HINT
    number = _event(env).get("number")
    known = isinstance(number, int) and not isinstance(number, bool)
    ref = f"refs/pull/{number}/head" if known else "refs/pull/NUMBER/head"
    return (
        f"on pull_request_target, fetch it (`git fetch origin {ref}`): `fetch-depth: 0` "
        "fetches no head of a fork's pull request"
    )


def _warn_if_behind(env: Mapping[str, str], git: Git, rev: str) -> None:
    """A pull request whose base commit is not in its history (the base branch moved on
    after it branched) is audited as its head has it: the runs, looks and ids the base
    gained since are not counted against it, so it can pass here and fail merged (an
    attacker's hunt: a budget passed by branching from an old commit, a rival's new id
    reused). Say so where the job shows it; a merge queue audits the merged commit."""
    base = pr_base_sha(env)
    if base is None or env.get("GITHUB_EVENT_NAME") == "merge_group":
        return
    try:
        behind = not git.is_ancestor(base, rev)
    except ExpflowError:  # (a base the clone lacks: the policy read from it says so)
        return
    if behind:
        _line(
            "::warning title=expflow-git::"
            + github_data(
                f"the pull request is behind its base {base[:12]}: what the base gained "
                "since it branched (runs and looks in the budgets, ids and results) is not "
                "counted here, so it may pass alone and fail merged; update the branch, or "
                "require branches to be up to date or a merge queue"
            )
        )


def summarise(report_path: str, env: Mapping[str, str]) -> tuple[str, str] | None:
    """(job summary, best feasible id) from the report at `report_path`; None if unreadable."""
    from expflow_git.render.markdown import render_markdown
    from expflow_git.render.view import view_from_statement
    from expflow_git.report.verify import ReportError, parse_report

    try:
        data = Path(report_path).read_bytes()
        envelope, statement = parse_report(data, source=report_path)
    except (OSError, ReportError):
        return None
    signers = _signers(data, report_path, env)
    view = view_from_statement(
        statement, signers, unverified=bool(envelope.signatures) and not signers
    )
    note = (
        "\n> ⚠️ This report's signature could not be verified.\n"
        if view.signature_unverified
        else "\n> ⚠️ This report is **unsigned**: no signing key was available.\n"
        if not view.signed
        else ""
    )
    # Cut to GitHub's cap once, the note inside it: added after the cut, it was cut off
    # again with the summary's last lines when the summary was near the cap.
    return render_markdown(view, footer=note), view.best_feasible or ""


def _not_completed(code: int) -> str:
    return (
        "## ❌ expflow-git audit did not complete\n\n"
        f"This run wrote no report (exit code {code}): see the job log for the error. "
        "The audit did not pass; nothing from an earlier report is shown.\n"
    )


def _say(message: str) -> None:
    """One line of the action's own in the log, with a PIN hash or a key masked as the
    CLI masks its lines (`errors.mask_secrets`): a pushed branch named `pin-HASH`, or a
    `rev` input holding one, was quoted whole (a hunt, issue 18 thirty-eighth pass)."""
    _line(f"expflow-git: {mask_secrets(message)}")


def _annotate_error(message: str) -> None:
    _line(f"::error title=expflow-git::{github_data(mask_secrets(message))}")


def _line(text: str) -> None:
    """One line of the action's own on stdout, escaped for the log already, written as
    the CLI writes its output (`cli.console.emit`): what the stream's encoding cannot
    hold (a Latin-1 locale, a Windows pipe's cp1252) as an escape (`\\u65e5`). `print`
    raised UnicodeEncodeError: a push to a branch named in Japanese "crashed", and an
    error naming such a path was a traceback, the job left without outputs or a summary
    (a hunt, issue 18 thirty-ninth pass)."""
    from expflow_git.cli.console import emit

    emit(text)


def _append(path: str | None, text: str) -> None:
    if path:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(text)


def _one_line(value: str) -> str:
    """A value for $GITHUB_OUTPUT's `key=value` lines (expflow_git.escape.output_value): it
    stays on its line, so it can add no output and start no heredoc."""
    from expflow_git.escape import output_value

    return output_value(value)


def _signers(data: bytes, source: str, env: Mapping[str, str]) -> list[str]:
    """Who signed the report, verified with the public half of the key it was signed
    with (EXPFLOW_SIGNING_KEY); empty when that cannot be shown."""
    from expflow_git.errors import ExpflowError
    from expflow_git.report.signer import signing_key
    from expflow_git.report.signing import keyid
    from expflow_git.report.trust import TrustedKey
    from expflow_git.report.verify import Options, verify_report

    try:
        key = signing_key(None, env)
    except ExpflowError:
        return []
    if key is None:
        return []
    public = key.public_key()
    trusted = TrustedKey(public, keyid(public), "EXPFLOW_SIGNING_KEY")
    verdict = verify_report(data, source=source, options=Options(trusted=[trusted]))
    return [k.name() for k in verdict.signers]


def run(env: Mapping[str, str]) -> int:
    """Audit, write the summary and the outputs; return the audit's exit code."""
    from expflow_git.cli import main

    report_path = env.get("EXPFLOW_INPUT_REPORT_PATH") or "expflow-report.json"
    shown: tuple[str, str] | None = None
    try:
        for path in (report_path, env.get("EXPFLOW_INPUT_HTML_PATH")):
            if path:
                _remove_stale(path)
        args = audit_args(env, report_path)
        if not env.get("EXPFLOW_SIGNING_KEY", "").strip():  # (as report.signer reads it)
            _line(
                "::warning title=expflow-git::no signing key (e.g. a pull request from a fork "
                "gets no secrets): the report is UNSIGNED"
            )
        sys.stdout.flush()
        code = main(args)
        # Exit 0 or 1 is an audit that ran to its verdict; anything else wrote no verdict
        # to trust, even if a report file exists.
        if code in (ExitCode.OK, ExitCode.FAILED) and os.path.isfile(report_path):
            shown = summarise(report_path, env)
    except ExpflowError as exc:
        _annotate_error(exc.message)
        code = int(exc.code)
    except KeyboardInterrupt:
        # A cancelled job's (or `timeout-minutes`') SIGINT outside the audit, whose own is
        # one line and 130: a traceback, and the job had neither outputs nor a summary.
        print("expflow-git: interrupted", file=sys.stderr)
        code = 130  # (the shell's 128 + SIGINT, as the CLI's)
    except Exception as exc:  # a bug: the job must still say that the audit did not complete
        _annotate_error(f"the audit crashed: {type(exc).__name__}: {exc}")
        code = int(ExitCode.USAGE)
    sys.stdout.flush()
    if shown is None:
        summary, best, passed, written = _not_completed(code), "", False, ""
    else:
        (summary, best), passed, written = shown, code == ExitCode.OK, report_path
    # (Under the cap: summarise cut it, its note inside; the text of no report is short.)
    _append(env.get("GITHUB_STEP_SUMMARY"), summary)
    _append(
        env.get("GITHUB_OUTPUT"),
        f"passed={'true' if passed else 'false'}\nbest-feasible={_one_line(best)}\n"
        f"report-path={_one_line(written)}\n",
    )
    return code if shown is not None or code != ExitCode.OK else int(ExitCode.USAGE)


if __name__ == "__main__":
    from expflow_git.cli.console import warnings_escaped

    with warnings_escaped():  # (as the CLI's: a warning quoting the repository, escaped)
        code = run(os.environ)
    raise SystemExit(code)
