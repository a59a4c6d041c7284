"""`Repository.new(study=None)` (issue 18 twenty-ninth pass): None passed the check of
texts (where None means "not given") and reached the record, refused as
`experiments/None/p7.json#/study` in an ExpflowError, where `study=5` is the ValueError
docs/api.md promises for an argument of the wrong kind. A study is required text."""

from __future__ import annotations

import pytest
from conftest import ExpRepo

from expflow_git import Repository

pytestmark = pytest.mark.usefixtures("isolated_env")


@pytest.mark.parametrize("study", [None, 5, b"s"])
def test_a_study_that_is_not_text_is_a_value_error(exp_repo: ExpRepo, study: object) -> None:
    repo = Repository(exp_repo.path)
    with pytest.raises(ValueError, match=r"^study: give text, not ") as caught:
        repo.new("p7", study=study)  # type: ignore[arg-type]
    assert "experiments/" not in str(caught.value)
    assert not list(exp_repo.path.rglob("p7.json"))  # nothing written


def test_a_study_given_as_text_is_written(exp_repo: ExpRepo) -> None:
    repo = Repository(exp_repo.path)
    assert repo.new("p7", study="s", params={"sub_step": 1}).study == "s"
