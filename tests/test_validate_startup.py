"""What a `validate` hook loads and how it reads the index (issue 18: most of a hook's time
is its start-up). A hook on records and results never imports the modules it does not use:
`email.utils` and `socket` (jsonschema-rs's extension asks for them for its build date
only), the streaming blob reader and `tempfile` (a hook reads its blobs in one one-shot
`git cat-file`), the series checks (no result here has series), `pickle` (one process).
The whole-index listing a big commit takes reads unmerged and submodule entries as the
named listing of a small one does."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

from conftest import ExpRepo, experiment_doc, result_doc, run_cli
from support import LIST_MODULES, run_cli_code

from expflow_git.hooks.lookup import FEW_DOCS

STARTUP_NEVER_IMPORTS = (
    "email.utils",
    "socket",
    "tempfile",
    "pickle",
    "click",
    "ruamel",
    "jsonschema",  # python-jsonschema; jsonschema_rs judges
    "expflow_git.gitblobs",
    "expflow_git.series",
    "expflow_git.report",
    "expflow_git.audit",
    "fractions",  # a number compared as written needs one only past 2**53 (~1 ms a hook)
)

MANY = FEW_DOCS + 8  # more than the lookup names to git one by one: the whole index is listed


def _sweep(repo: ExpRepo, count: int) -> tuple[list[str], list[str]]:
    """`count` records committed and their results staged (a sweep's results commit); the
    checked policy remembered in .git/expflow, as after any hook run."""
    ids = [f"run-{n:03d}" for n in range(count)]
    records = [repo.add_experiment(i) for i in ids]
    repo.commit("launch")
    warm = run_cli(["validate", "--", records[0]], cwd=repo.path)
    assert warm.code == 0, warm
    results = [repo.add_result(i) for i in ids]
    repo.stage(*results)
    return records, results


def _leaked(listing: str) -> list[str]:
    loaded = set(listing.split())
    assert {"expflow_git.hooks.validate", "jsonschema_rs"} <= loaded  # the listing is real
    return sorted(
        m for m in loaded for top in STARTUP_NEVER_IMPORTS if m == top or m.startswith(top + ".")
    )


def test_a_hook_on_records_and_results_loads_only_what_it_needs(exp_repo: ExpRepo) -> None:
    records, results = _sweep(exp_repo, MANY)
    for files in ([records[0]], [results[0]], records, results, records + results):
        args = ["validate", "--", *files]
        code, out, err = run_cli_code(LIST_MODULES, args, exp_repo.path)
        assert code == 0, err
        assert err.strip().endswith(f"validate: {len(files)} document(s) OK"), err
        assert _leaked(out) == [], (files[:2], _leaked(out))


def test_a_failing_hook_explains_without_them_too(exp_repo: ExpRepo) -> None:
    _, results = _sweep(exp_repo, MANY)
    exp_repo.write_json(results[3], result_doc("run-003", metrics={"seg_totl": 1.0}))
    exp_repo.write_json(results[4], {"experiment": "run-004"})  # breaks the schema
    exp_repo.stage(results[3], results[4])
    code, out, err = run_cli_code(LIST_MODULES, ["validate", "--", *results], exp_repo.path)
    assert code == 1, err
    assert f"{results[3]}#/metrics/seg_totl: unknown-metric:" in out
    assert f"{results[4]}: schema: " in out, out[:2000]
    assert _leaked(out) == []


_REAL_EMAIL_UTILS = """
import sys
from expflow_git.schemas import Kind, fast_validator, is_valid
validators = [fast_validator(kind) for kind in Kind]
assert all(v is not None for v in validators)
assert "email.utils" not in sys.modules, "loaded for jsonschema_rs's build date"
assert not is_valid(Kind.EXPERIMENT, {"id": "x"}) and is_valid(Kind.POLICY, {}) in (True, False)
import email.utils
when = email.utils.parsedate_to_datetime("Tue, 27 Oct 2026 10:17:51 +0000")
print(type(when).__name__, when.year, email.utils.formataddr(("a", "a@b.c")))
"""


def test_email_utils_is_the_real_module_once_the_validators_are_built() -> None:
    """The stand-in jsonschema_rs's extension gets while it loads is gone afterwards: a
    later `import email.utils` (any library's) gets the real module."""
    proc = subprocess.run(
        [sys.executable, "-c", _REAL_EMAIL_UTILS], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["datetime", "2026", "a", "<a@b.c>"], proc.stdout


def test_validators_build_when_email_utils_is_already_loaded() -> None:
    code = (
        "import email.utils, sys\n"
        "from expflow_git.schemas import Kind, is_valid\n"
        "assert not is_valid(Kind.RESULT, {})\n"
        "print(sys.modules['email.utils'] is email.utils)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "True"


def _unmerge(repo: ExpRepo, rel: str) -> None:
    """Put `rel` in conflict in the index: stages 1-3, no stage 0."""
    blobs = []
    for title in ("base", "ours", "theirs"):
        blob = repo.path / f"{title}.blob"
        blob.write_text(f'{{"title": "{title}"}}\n')
        blobs.append(repo.git("hash-object", "-w", str(blob)))
        blob.unlink()
    lines = [f"0 {'0' * 40}\t{rel}"]
    lines += [f"100644 {sha} {stage}\t{rel}" for stage, sha in enumerate(blobs, start=1)]
    subprocess.run(
        ["git", "update-index", "--index-info"],
        cwd=repo.path,
        input="\n".join(lines) + "\n",
        text=True,
        check=True,
    )


def test_the_whole_index_listing_reads_conflicts_and_submodules_as_the_named_one_does(
    exp_repo: ExpRepo,
) -> None:
    """A record in conflict has no staged content, and a submodule at a record's path names
    a commit, not a document: neither backs its result, whether the index is asked for the
    few ids of a small commit or listed whole for a big one."""
    _, results = _sweep(exp_repo, MANY)
    _unmerge(exp_repo, exp_repo.exp_path("run-001"))
    head = exp_repo.head()
    gitlink = f"160000,{head},{exp_repo.exp_path('run-002')}"
    exp_repo.git("update-index", "--cacheinfo", gitlink)
    exp_repo.write_json(exp_repo.exp_path("run-003"), experiment_doc("run-003", status="failed"))
    exp_repo.stage(exp_repo.exp_path("run-003"))  # its result now backs nothing

    def findings(files: list[str]) -> list[str]:
        res = run_cli(["validate", "--", *files], cwd=exp_repo.path)
        assert res.code == 1, res
        return sorted(line for line in res.out.splitlines() if "/run-00" in line)

    few = findings(results[1:4])
    assert len(results) > FEW_DOCS
    whole = findings(results)
    assert few == whole
    for run in ("run-001", "run-002"):
        assert any(f"{run}.json#/experiment: result-without-record" in line for line in few), few
    assert any("run-003.json#/experiment: result-for-unsuccessful-run" in f for f in few), few


def test_main_called_with_arguments_leaves_the_collector_as_it_found_it(
    exp_repo: ExpRepo, cli: Any
) -> None:
    """Only the program itself (`main()` reading sys.argv, about to exit) freezes the heap
    and runs its hook with the collector off: a caller passing arguments (these tests, a
    script) gets its collector back as it was."""
    import gc

    records, _ = _sweep(exp_repo, 2)
    frozen = gc.get_freeze_count()
    for args in (["validate", "--", *records], ["validate", "--staged", "--", *records]):
        res = cli(args, cwd=exp_repo.path)
        assert res.code == 0, res
        assert gc.isenabled()
        assert gc.get_freeze_count() == frozen


def test_a_record_whose_blob_is_missing_is_one_error_line(exp_repo: ExpRepo) -> None:
    """The one-shot `cat-file` reads a missing object (an index entry made with
    `--info-only`) as the streaming reader did: one line naming it, exit 2, no traceback,
    whether the index is asked by name or listed whole."""
    _, results = _sweep(exp_repo, MANY)
    missing = "1" * 40
    record = exp_repo.exp_path("run-004")
    exp_repo.git("update-index", "--info-only", "--cacheinfo", f"100644,{missing},{record}")
    for files in ([results[4]], results):
        res = run_cli(["validate", "--", *files], cwd=exp_repo.path)
        assert res.code == 2, res
        assert res.err.strip() == (
            f"expflow-git: error: git object {missing} is missing from the repository"
        ), res.err
        assert res.out == ""


def test_another_thread_importing_email_utils_meanwhile_gets_the_real_function() -> None:
    """While jsonschema-rs loads, the stand-in keeps only that thread's call as text."""
    import threading

    from expflow_git.schemas import _BuildDateOnly

    stand_in = _BuildDateOnly("email.utils")
    date = "Tue, 27 Oct 2026 10:17:51 +0000"
    answers: list[object] = []
    other = threading.Thread(target=lambda: answers.append(stand_in.parsedate_to_datetime(date)))
    other.start()
    other.join()
    assert type(answers[0]).__name__ == "datetime"
    assert stand_in.parsedate_to_datetime(date) == date  # the loading thread's: text
