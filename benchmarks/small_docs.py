"""The audit on many small documents (issue 18), a task of run.py: `--tasks small`.

The data (gen_small.py): N runs, a record of ~550 bytes and a result of ~430
bytes each, one commit packed as a clone is. The floor is floor.py with orjson
(one `git ls-tree -r -z`, one `git cat-file --batch --buffer`, every JSON blob
parsed). Goals, as ratios measured in the same run: warm audit ≤ 3× the floor,
cold (`--no-cache`) ≤ 6×, at 20k and 100k runs; peak RSS at 100k < 400 MiB.
With `--million` (or EXPFLOW_BENCH_MILLION=1; long: ~5 min to build, ~6 min to run, 2M documents):
1M runs, peak RSS < 2 GiB and cold seconds per document ≤ 1.2× the 100k figure.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import gen_small

if TYPE_CHECKING:
    from run import Bench


def dataset(data: Path, runs: int) -> Path:
    """Build (or reuse, while its manifest matches) the small-document repository."""
    dest = data / f"small-{runs}"
    manifest = gen_small.manifest_path(dest)
    studies = gen_small.studies_for(runs)
    want = gen_small.wanted(runs, studies, 0)
    if manifest.exists() and json.loads(manifest.read_text()) == want:
        return dest
    print(f"building {dest} ({runs} runs) …", file=sys.stderr, flush=True)
    t0 = time.perf_counter()
    if dest.exists():
        import shutil

        shutil.rmtree(dest)
    manifest.unlink(missing_ok=True)
    data.mkdir(parents=True, exist_ok=True)
    gen_small.build(dest, runs, studies)
    print(f"  built in {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
    return dest


def run_small(bench: Bench, *, million: bool) -> None:
    """The small-document rows of the table (and `bench.raw["small_<runs>"]`)."""
    import run

    sizes = [2_000, 20_000] if bench.quick else [20_000, 100_000]
    if million:
        sizes.append(1_000_000)
    per_doc: dict[int, float] = {}
    for runs in sizes:
        repo = dataset(run.DATA, runs)
        docs = 2 * runs
        label = f"{runs // 1000}k runs" if runs < 1_000_000 else "1M runs"
        print(f"audit, small documents, {label} ({docs} documents):", file=sys.stderr)
        envelope = str(run.OUT / f"audit-small-{runs}.report.json")
        text = run.OUT / f"audit-small-{runs}.txt"
        # (A million runs get one round: measure_rounds sees how long a round takes.)
        floor, cold, warm = run.measure_rounds(
            [
                run.Command(
                    f"floor small {label} (git + orjson)",
                    [
                        str(run.BASE_BIN / "python"),
                        str(run.HERE / "floor.py"),
                        str(repo),
                        "--parser",
                        "orjson",
                    ],
                    repo,
                ),
                *run.audit_commands(bench.exe, f"small {label}", repo, envelope, text),
            ],
            bench.repeat,
        )
        for mode, timing, goal in (("warm (cache)", warm, 3), ("cold (--no-cache)", cold, 6)):
            ratio = run.paired_ratio(timing, floor)
            bench.add(
                f"audit small docs {label} {mode} vs floor",
                timing.median,
                floor.median,
                ratio,
                f"≤ {goal}×",
                ratio <= goal,
            )
        rss = max(cold.rss_mib, warm.rss_mib)
        limit = 2048 if runs >= 1_000_000 else 400
        if runs >= 100_000:
            bench.add(
                f"audit small docs {label} peak RSS (MiB)",
                f"{rss:.0f}",
                "",
                None,
                f"< {limit} MiB",
                rss < limit,
            )
        per_doc[runs] = cold.median / docs
        bench.raw[f"small_{runs}"] = {
            "documents": docs,
            "floor_orjson": floor.as_json(),
            "cold": cold.as_json(),
            "warm": warm.as_json(),
            "per_document_us_cold": 1e6 * cold.median / docs,
            "per_document_us_warm": 1e6 * warm.median / docs,
            "per_document_us_floor": 1e6 * floor.median / docs,
        }
    if million:
        base, big = per_doc[sizes[-2]], per_doc[sizes[-1]]
        bench.add(
            "audit small docs cold per document µs, 1M vs 100k",
            f"{1e6 * big:.1f}",
            f"{1e6 * base:.1f}",
            big / base,
            "≤ 1.2× (linear)",
            big / base <= 1.2,
        )
