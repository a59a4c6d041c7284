"""Hunt 37, the local caches: a warm audit's report must equal `audit --no-cache`'s
(docs/spec.md §6.1: the caches "only save work: [they] never change a report")."""

from __future__ import annotations

from pathlib import Path

from helpers_audit import (
    STUDY,
    Cli,
    add_run,
    commit_all,
    experiment,
    findings_of,
    m,
    new_repo,
    statement_of,
    write_json,
)
from test_cache import audit

from expflow_git.audit.folders import MIN_DOCUMENTS


def test_a_masked_pointer_is_not_masked_again_by_the_folder_cache(
    xcli: Cli, tmp_path: Path
) -> None:
    """A params key the PIN scan masks across its closing quote (`EXPFLOW_PIN=x"`) was
    masked once more each time a Finding was made of it: the folder cache made its
    findings again from the masked ones, so the warm report's pointer gained a `\\"`
    and differed from the cold one's (which `verify --repo` then refused)."""
    repo = new_repo(tmp_path / "repo")
    for i in range(MIN_DOCUMENTS + 1):
        add_run(repo, f"run-{i:02d}", m(50 + i))
    record = experiment("run-03")
    record["params"]["abcd EXPFLOW_PIN=x"] = {}  # a schema finding at /params/<key>
    write_json(repo, f"experiments/{STUDY}/run-03.json", record)
    commit_all(repo)
    cold = audit(xcli, repo, "--no-cache")
    filling = audit(xcli, repo)  # writes the folder cache's entries
    warm = audit(xcli, repo)  # takes the experiments' folder from it
    assert [f.get("pointer") for f in findings_of(statement_of(warm.report))] == [
        f.get("pointer") for f in findings_of(statement_of(cold.report))
    ]
    assert filling.report == cold.report
    assert warm.report == cold.report
    assert (warm.code, warm.out) == (cold.code, cold.out)


def test_masking_a_key_twice_is_masking_it_once() -> None:
    """The mask across the key's closing quote left the opening one, which each further
    pass escaped again (`"\\"abcd…`): the pointer was garbled even without a cache."""
    from expflow_git.errors import Finding

    for key in ("abcd EXPFLOW_PIN=x", '0000"  EXPFLOW_PIN=0000', "0000/\\EXPFLOW_PIN=0000x"):
        pointer = "/params/" + key.replace("/", "~1")
        once = Finding("f.json", "schema", "m", pointer).pointer
        assert once.endswith("EXPFLOW_PIN=****"), once
        assert Finding("f.json", "schema", "m", once).pointer == once
    assert once == "/params/0000~1\\EXPFLOW_PIN=****"
    assert Finding("f.json", "schema", "m", "/params/abcd EXPFLOW_PIN=x").pointer == (
        "/params/abcd EXPFLOW_PIN=****"
    )


def test_masking_a_pointer_twice_is_masking_it_once_across_its_keys() -> None:
    """The mask of the whole pointer may span two keys (the review's find): a finding
    made again from its masked copy was masked once more."""
    from expflow_git.errors import Finding
    from expflow_git.jsonstrict import pointer_token

    for keys in (['pin:"EXPFLOW_PIN=', "\n\\u0034"], ["4821 EXPFLOW_PIN=\\u0034", "\n", "\n"]):
        pointer = "/params/" + "/".join(pointer_token(k) for k in keys)
        once = Finding("f.json", "schema", "m", pointer).pointer
        assert "EXPFLOW_PIN=****" in once, once
        assert Finding("f.json", "schema", "m", once).pointer == once
