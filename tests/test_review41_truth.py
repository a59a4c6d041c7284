"""An adversarial review of the forty-first pass's "spec truth" commits (issue 18):
3d02ecf, a0f5a90, 76be4d0, 018b7ff. Each test failed on the code before its fix."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import ExpRepo
from support import CliCall
from test_hunt41_spec4 import trained_here
from test_import_common import totals, tree_bytes

HEADER = "run,state,sub_step,seg_total,pde_mean,train_time_min,val_mse\n"


def test_a_result_trained_here_lacking_a_metric_gets_no_correct_advice(
    committed_repo: ExpRepo, tmp_path: Path, cli: CliCall
) -> None:
    """3d02ecf refuses `--correct` over a committed result `run()` or `result` wrote
    ("an import never removes or writes over a result it did not write", spec §4.2).
    But when the source's result only adds a metric to it, the plain import still said
    "1 committed result(s) lack metrics the source has (val_mse): w1; results are
    write-once (take them in as declared corrections with --correct REASON)", exit 0:
    advice the import then refuses. The same source before the commit is refused (the
    uncommitted path), so once committed it is refused too, with no such advice."""
    repo = committed_repo
    sheet = tmp_path / "runs.csv"
    args = trained_here(repo, sheet, HEADER, cli)
    before = tree_bytes(repo.path)
    sheet.write_text(f"{HEADER}w1,success,5,61.0,15.0,40,0.5\n", encoding="utf-8")
    plain = cli(args, repo.path)
    assert "--correct REASON" not in plain.out + plain.err, plain
    assert "results/sheet/w1.json: the result there is not this import's" in plain.out, plain
    assert plain.code == 1, plain
    assert totals(plain.out) == "0 new, 0 updated, 0 unchanged, 1 refused"
    assert tree_bytes(repo.path) == before


@pytest.mark.parametrize(
    "ms", [-30610224000001, -62135596800000, 0, 1733577600123], ids=["999", "1", "1970", "2024"]
)
def test_an_imported_time_of_any_year_meets_the_schemas_pattern(ms: int) -> None:
    """a0f5a90 says "what the tool writes (`utc_now`, the importers) always met" the RFC
    3339 pattern. An MLflow run's start before the year 1000 (or an Optuna trial's) was
    written `999-12-31T…` (glibc's `%Y` pads no year): the run's record failed its
    schema. It is `0999-12-31T…`, as RFC 3339 has it."""
    import datetime as dt
    import json

    from expflow_git.importers.source import epoch_ms_time, utc_time
    from expflow_git.schemas import _search

    root = Path(__file__).resolve().parents[1] / "schemas"
    pattern = json.loads((root / "experiment.schema.json").read_text("utf-8"))["$defs"][
        "timestamp"
    ]["pattern"]
    written = epoch_ms_time(ms)
    assert written is not None
    assert _search(pattern, written), written
    moment = dt.datetime.fromtimestamp(ms / 1000, tz=dt.timezone.utc)
    assert written == utc_time(moment)
    assert written[:4] == f"{moment.year:04d}"
    assert written.endswith("Z") and len(written.split(".")[1]) == 7  # µs and the Z
