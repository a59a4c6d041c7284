"""Four small items a hunt noticed (issue 18 forty-first pass), closed: `validate` of a
path that is not there, `show`/`compare`/`audit --experiment` of an id that is not
UTF-8, and an empty string given for `rm`/`result --reason` or `new --condition` taken
for the option left out (spec §4). Each test failed on the code before."""

from __future__ import annotations

import pytest
from conftest import ExpRepo, assert_clean_output
from support import CliCall

pytestmark = pytest.mark.usefixtures("isolated_env")

STUDY = "pdebench-task1"
METRICS = [
    *("--metric", "seg_total=61.0", "--metric", "pde_mean=15.0"),
    *("--metric", "train_time_min=40"),
]


@pytest.mark.parametrize(
    "given", ["nonexist.json", "expflow.yam", "no-such-folder/", "../elsewhere.txt"]
)
def test_validate_refuses_a_path_that_is_not_there(
    exp_repo: ExpRepo, cli: CliCall, given: str
) -> None:
    """Spec §7: a path given that is not there is `not-a-regular-file`, exit 1, as `scan`
    says it (twenty-eighth pass): `validate expflow.yam` (a typo in a hook or a script)
    said "0 document(s) OK", exit 0, having checked nothing."""
    done = cli(["validate", given], exp_repo.path)
    assert done.code == 1, done
    name = given.rstrip("/")
    assert f"{name}: not-a-regular-file: no such file" in done.out, done
    assert "OK" not in done.err
    assert_clean_output(done.out, done.err)
    scanned = cli(["scan", given], exp_repo.path)  # the wording it shares with `scan`
    assert scanned.code == 1 and f"{name}: not-a-regular-file: no such file" in scanned.out


def test_validate_still_passes_what_is_there_and_is_no_document(
    exp_repo: ExpRepo, cli: CliCall
) -> None:
    """The nearest innocent case: a file that is there but no document is no finding, and
    a typo among good paths is named alone."""
    exp_repo.write("README.md", "notes\n")
    rel = exp_repo.add_experiment()
    exp_repo.stage()
    assert cli(["validate", "README.md", rel], exp_repo.path).code == 0
    done = cli(["validate", "README.md", rel, "READNE.md"], exp_repo.path)
    assert done.code == 1, done
    assert done.out.splitlines() == ["READNE.md: not-a-regular-file: no such file"]


def test_validate_staged_keeps_a_path_the_disk_no_longer_has(
    exp_repo: ExpRepo, cli: CliCall
) -> None:
    """With --staged a path the disk no longer has stands for the index's entries below
    it (spec §7): a staged folder deleted from the disk is still checked, not refused."""
    rel = exp_repo.add_experiment()
    exp_repo.stage()
    (exp_repo.path / rel).unlink()
    (exp_repo.path / rel).parent.rmdir()
    done = cli(["validate", "--staged", rel.rpartition("/")[0]], exp_repo.path)
    assert done.code == 0, done
    assert "1 document(s) OK" in done.err


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["show", "e\udcff"], "ID 'e\\xff' is not UTF-8 text"),
        (["compare", "e\udcff", "exp-001"], "ID 'e\\xff' is not UTF-8 text"),
        (["audit", "--experiment", "e\udcff"], "--experiment 'e\\xff' is not UTF-8 text"),
    ],
    ids=["show", "compare", "audit"],
)
def test_an_id_that_is_not_utf8_is_named_as_new_names_it(
    committed_repo: ExpRepo, cli: CliCall, args: list[str], said: str
) -> None:
    """Spec §4: "An argument that is not UTF-8 is refused (exit 2, one line naming its
    option)"; `new` and the record commands say `ID 'e\\xff' is not UTF-8 text`, exit 2,
    where `show` and `compare` said `no experiment 'e\\udcff'`, exit 1 (a lone
    surrogate's spelling, and the exit code of data failing)."""
    done = cli(args, committed_repo.path)
    assert done.code == 2, done
    assert said in done.err, done
    assert "udcff" not in done.err
    assert_clean_output(done.out, done.err)


def test_rm_warns_that_an_empty_reason_is_not_kept(exp_repo: ExpRepo, cli: CliCall) -> None:
    """Spec §4 (`rm`): "without one nothing keeps a `--reason`, and a warning says so",
    and an empty string given is "never taken for the option left out": `rm ID --reason
    ''` removed the run without the warning a non-empty reason gets."""
    for exp_id in ("e1", "e2"):
        assert cli(["new", exp_id, "--study", STUDY], exp_repo.path).code == 0
    blank = cli(["rm", "e1", "--reason", " ", "--force"], exp_repo.path)
    assert blank.code == 0 and "--reason is not kept" in blank.err, blank
    empty = cli(["rm", "e2", "--reason", "", "--force"], exp_repo.path)
    assert empty.code == 0, empty
    assert "no correction written: e2 has no committed result, so --reason is not kept" in (
        empty.err
    )


def test_result_warns_that_an_empty_reason_is_not_kept(exp_repo: ExpRepo, cli: CliCall) -> None:
    """As `rm`: `result ID --metric … --reason ''` (no committed result) dropped the reason
    without a word; and `--overwrite --reason ''` was told it "needs --reason TEXT", as if
    none were given."""
    assert cli(["new", "e1", "--study", STUDY], exp_repo.path).code == 0
    done = cli(["result", "e1", *METRICS, "--reason", ""], exp_repo.path)
    assert done.code == 0, done
    assert "so --reason is not kept" in done.err, done
    again = cli(["result", "e1", *METRICS, "--overwrite", "--reason", ""], exp_repo.path)
    assert again.code == 2, again
    assert "--reason: the reason is empty" in again.err, again
    assert "needs --reason" not in again.err


def test_new_refuses_an_empty_condition(exp_repo: ExpRepo, cli: CliCall) -> None:
    """Spec §4: an empty string given is "never taken for the option left out". `new e5
    --condition ''` derived the seed from the id (the default), the seed of `--condition
    e5`, exit 0: a sweep's `--condition "$COND"`, the variable empty, gave every run its
    own condition silently."""
    done = cli(["new", "e5", "--study", STUDY, "--condition", ""], exp_repo.path)
    assert done.code == 2, done
    assert "'--condition'" in done.err and "not an empty string" in done.err
    assert not (exp_repo.path / exp_repo.exp_path("e5", STUDY)).exists()
    assert cli(["new", "e5", "--study", STUDY, "--condition", "c"], exp_repo.path).code == 0


def test_the_api_refuses_an_empty_condition(exp_repo: ExpRepo) -> None:
    """The same through `Repository.new` (write_experiment), named by its argument."""
    from expflow_git import Repository
    from expflow_git.errors import ExpflowError

    with pytest.raises(ExpflowError, match="condition: give a condition, not an empty string"):
        Repository(exp_repo.path).new("e6", study=STUDY, condition="")
    assert not (exp_repo.path / exp_repo.exp_path("e6", STUDY)).exists()
