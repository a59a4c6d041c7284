"""`import csv` raised the csv module's field limit, which is the process's, while it
read, and put back what it found: two imports in two threads each put back the other's
raised limit, which stayed raised for good; and a 60 MiB cell was read whole and its
record's JSON built (~775 MB) before its run was refused as over the documents' 1 MiB
cap (a review, issue 18 thirtieth pass). The limit is set, read and put back under a
lock; a cell over the cap is not read: its run is refused by itself, the others
imported."""

from __future__ import annotations

import csv
import json
import threading
from pathlib import Path

from conftest import ExpRepo
from support import run_cli, run_cli_code
from test_import_common import totals

from expflow_git.importers import import_csv
from expflow_git.importers.common import Action
from expflow_git.jsonstrict import DEFAULT_MAX_BYTES

HEADER = "run,sub_step,note,seg_total,pde_mean,train_time_min\n"


def test_the_limit_is_back_after_imports_in_threads(exp_repo: ExpRepo, tmp_path: Path) -> None:
    limit = csv.field_size_limit()
    paths = []
    for n in range(8):
        path = tmp_path / f"runs{n}.csv"
        rows = "".join(f"r{i},1,{'n' * 200},57,15,45\n" for i in range(4000))
        path.write_text(HEADER + rows + f"long,2,{'x' * 200_000},58,15,45\n", encoding="utf-8")
        paths.append(path)
    start = threading.Barrier(len(paths))
    failures: list[BaseException] = []

    def one(path: Path) -> None:
        try:
            start.wait()
            summary = import_csv(path, id_column="run", study="s", root=exp_repo.path, dry_run=True)
            assert summary.count(Action.NEW) == 4001, summary
        except BaseException as exc:  # (reported by the test's thread)
            failures.append(exc)

    threads = [threading.Thread(target=one, args=(p,)) for p in paths]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert csv.field_size_limit() == limit


def test_an_over_cap_cell_refuses_its_run_alone_unread(exp_repo: ExpRepo, tmp_path: Path) -> None:
    path = tmp_path / "runs.csv"
    cell = DEFAULT_MAX_BYTES + 1
    path.write_text(
        HEADER
        + "r1,1,short,57,15,45\n"
        + f'r2,2,"{"y" * 10}\n{"y" * (cell - 11)}",58,15,45\n'  # (quoted, over two lines)
        + "r3,3,ok,59,15,45\n"
        + f"r4,4,{'z' * (DEFAULT_MAX_BYTES)},60,15,45\n",  # (at the cap: read, and refused
        encoding="utf-8",  # as its document's size, as before)
    )
    args = ["import", "csv", str(path), "--id-column", "run", "--study", "s"]
    res = run_cli(args, exp_repo.path)
    assert res.code == 1, res
    assert totals(res.out) == "2 new, 0 updated, 0 unchanged, 2 refused", res.out
    assert (
        f"refused   r2 (id r2): experiments/s/r2.json: invalid-json: document is over the "
        f"{DEFAULT_MAX_BYTES}-byte cap ({path}: row 3: a cell over {DEFAULT_MAX_BYTES} "
        f"characters in 'note' ({cell} characters), not read)"
    ) in res.out, res.out
    assert "refused   r4 (id r4): experiments/s/r4.json: invalid-json: document is" in res.out
    assert not (exp_repo.path / "experiments/s/r2.json").exists()
    for run in ("r1", "r3"):
        record = json.loads((exp_repo.path / f"experiments/s/{run}.json").read_text())
        assert record["provenance"]["source"]["run"] == run
    assert run_cli(["validate"], exp_repo.path).code == 0


# The CLI in-process, its peak memory (KiB on Linux) printed last.
_PEAK = (
    "import resource, sys\n"
    "from expflow_git.cli import main\n"
    "code = main(sys.argv[1:])\n"
    "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
    "raise SystemExit(code)\n"
)


def test_a_huge_cell_is_refused_without_memory_many_times_its_size(
    exp_repo: ExpRepo, tmp_path: Path
) -> None:
    """Its run's JSON is not built: the import's peak stays a few times the file's size
    (it was ~13 times: a 60 MiB cell took ~775 MB)."""
    size = 40 * 1024 * 1024
    small, huge = tmp_path / "small.csv", tmp_path / "huge.csv"
    small.write_text(HEADER + "r1,1,a,57,15,45\n", encoding="utf-8")
    huge.write_text(HEADER + f"r1,1,a,57,15,45\nr2,2,{'x' * size},58,15,45\n", encoding="utf-8")
    peaks = []
    for path in (small, huge):
        args = ["import", "csv", str(path), "--id-column", "run", "--study", "s", "--dry-run"]
        code, out, err = run_cli_code(_PEAK, args, exp_repo.path)
        assert code in (0, 1), out + err
        peaks.append(int(out.strip().splitlines()[-1]) * 1024)
    assert peaks[1] - peaks[0] < 4 * size, peaks
    assert "not read" in out, out
