"""An attacker's hunt of docs/spec.md §6 (audit, ranking, report) and §7 (hooks) against
the real CLI (forty-first pass): a claim the code contradicted, each test failing on the
code before the fix."""

from __future__ import annotations

import hashlib

from conftest import ExpRepo, run_cli

RES = "results/pdebench-task1/exp-001.json"


def test_staged_hooks_take_the_repository_root_named_absolutely_as_a_folder(
    committed_repo: ExpRepo,
) -> None:
    """§7: "With `--staged`, a folder given (or a path the disk no longer has) stands
    for the index's entries below it, for `validate` and `scan`." The repository's root
    is such a folder, and `.`, `./` and `/abs/root/` were read so; but named as an
    absolute path without a trailing `/` (`"$PWD"`, `$(git rev-parse --show-toplevel)`)
    it was taken for a path outside the work tree: `scan --staged` said it was `not
    staged` (exit 1, nothing scanned, a PIN hash staged beside it), and `validate
    --staged` checked nothing and passed, `0 document(s) OK`, an invalid result
    staged."""
    repo = committed_repo
    repo.add_experiment()
    repo.add_result(metrics={"seg_totl": 1.0, "pde_mean": 15.0, "train_time_min": 45.5})
    pin_sha = hashlib.sha256(str(4000 + 821).encode()).hexdigest()
    repo.write("notes.txt", f"digest {pin_sha}\n")
    repo.git("add", "-A")
    root = str(repo.path)
    for given in (root, root + "/", "."):
        code, out, err = run_cli(["validate", "--staged", "--", given], repo.path)
        assert code == 1, (given, out + err)
        assert f"{RES}#/metrics/seg_totl: unknown-metric" in out, (given, out + err)
        code, out, err = run_cli(["scan", "--staged", "--", given], repo.path)
        assert code == 1, (given, out + err)
        assert "notes.txt:1:" in out and "pin-sha256" in out, (given, out + err)
        assert "not staged" not in out + err, (given, out + err)
        assert pin_sha not in out + err
    # From a folder of the work tree, too.
    sub = repo.path / "results"
    code, out, err = run_cli(["scan", "--staged", "--", root], sub)
    assert code == 1 and "pin-sha256" in out and "not staged" not in out, out + err
    code, out, err = run_cli(["validate", "--staged", "--", root], sub)
    assert code == 1 and "unknown-metric" in out, out + err
