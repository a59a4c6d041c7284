"""Time expflow-git beside the tools users would otherwise use, on the same synthetic data.

    python benchmarks/run.py [--quick] [--repeat R] [--json OUT]
                             [--tasks hook,sweep,validate,audit,scan] [--profile]

Run it with the interpreter expflow-git is installed in (its ``expflow-git``
script is taken from beside ``sys.executable``).  Data sets are built once
with gen_repo.py and cached under benchmarks/out/data/; the baselines
(check-jsonschema, detect-secrets, orjson for the floor) are installed into
benchmarks/out/venv-baselines/ when missing.  The commands a ratio compares
run in rounds (measure_rounds): each once untimed (warm-up), then R rounds in
which each runs once, in turn (one round if a round's warm-ups took over
SLOW_ROUND_SECONDS); the table shows medians, and each ratio is the median of
the rounds' ratios.  Wall time is ``time.perf_counter`` around the child;
peak memory is measured on the warm-up run with ``/usr/bin/time -f %M`` (the
largest process of the command's tree that was waited for: expflow-git's
Python, not its git helpers, in practice).

Tasks (issue 6):
  audit     expflow-git audit, --no-cache (cold) and default (warm), on 10k and
            100k runs (quick: 1k and 10k), vs the floor: floor.py (ls-tree +
            cat-file --batch --buffer + parse) with orjson and with stdlib json
  validate  expflow-git validate FILES vs check-jsonschema on the same 10k files
            (quick: 1k); peak RSS
  scan      expflow-git scan FILES vs detect-secrets scan FILES: time, recall on
            the planted PIN hashes, false positives on the decoys
  small     the audit on 20k and 100k runs of small documents (issue 18;
            small_docs.py), warm and cold vs the floor; --million adds 1M runs
  hook      expflow-git validate ONE_RESULT vs check-jsonschema ONE_RESULT,
            with `python -c pass` as the floor
  sweep     (issue 18) small documents, 2,000 records committed and their results
            staged (quick: 200): validate the results, the records, and one result,
            vs check-jsonschema on the records (and on the one result)
``--profile`` also writes cProfile output of the smaller audit and
``-X importtime`` of the one-file validate under benchmarks/out/profile/.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
DATA = OUT / "data"
BASE_VENV = OUT / "venv-baselines"
BASE_BIN = BASE_VENV / "bin"
SCHEMAS = HERE.parent / "schemas"
# as shipped: its $ref to experiment.schema.json resolves from the same folder
RESULT_SCHEMA = str(SCHEMAS / "result.schema.json")
BASELINE_PACKAGES = ("check-jsonschema", "detect-secrets", "orjson")
MiB = 1024 * 1024
# One timed round (measure_rounds), not --repeat, once a round's warm-ups take longer.
SLOW_ROUND_SECONDS = 60.0
GNU_TIME = Path("/usr/bin/time")

sys.path.insert(0, str(HERE))
import gen_repo  # noqa: E402  (beside this file, not a package)
import small_docs  # noqa: E402  (the same)

# --------------------------------------------------------------------------- running


@dataclass
class Sample:
    seconds: float
    rc: int


@dataclass
class Timing:
    name: str
    argv: list[str]
    cwd: str
    rss_kib: int = 0
    samples: list[Sample] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(s.seconds for s in self.samples)

    @property
    def rss_mib(self) -> float:
        return self.rss_kib / 1024

    def as_json(self) -> dict[str, object]:
        return {
            "argv": self.argv[:8] + (["…"] if len(self.argv) > 8 else []),
            "argc": len(self.argv),
            "cwd": self.cwd,
            "median_s": self.median,
            "samples_s": [s.seconds for s in self.samples],
            "rc": [s.rc for s in self.samples],
            "peak_rss_mib": self.rss_mib,
        }


def clean_env(*, expflow: bool = False, **extra: str) -> dict[str, str]:
    """The caller's environment without git's hook variables, colour off.

    PYTHONPATH is kept only for expflow-git's own commands (it may put a
    snapshot of the code first, see the README); other Python programs get
    none — an extra path entry slows check-jsonschema's start-up by ~0.1 s.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    # Users run from compiled bytecode: let the warm-up write the .pyc files.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if not expflow:
        env.pop("PYTHONPATH", None)
    env.update(NO_COLOR="1", **extra)
    return env


def run_once(
    argv: Sequence[str],
    cwd: Path,
    env: dict[str, str],
    stdout: Path | None = None,
    *,
    rss: bool = False,
    expect: str | None = None,
) -> tuple[Sample, int]:
    """Run `argv` once: wall time and exit code; with `rss`, also its peak RSS in KiB.

    The peak RSS comes from GNU time (a small C parent, so nothing of this
    runner's memory is counted), else from os.wait4 — which over-reports small
    commands: Linux carries the parent's RSS at fork over into the child.
    `expect`, a regex, must occur in the command's stderr (its closing summary).
    """
    err_path = OUT / "last-stderr.txt"
    rss_file = OUT / "last-rss.txt"
    wrap = rss and GNU_TIME.exists()
    full = [str(GNU_TIME), "-f", "%M", "-o", str(rss_file), *argv] if wrap else list(argv)
    with open(stdout or os.devnull, "wb") as out, open(err_path, "wb") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(full, cwd=cwd, env=env, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    errors = err_path.read_text(errors="replace")
    # Exit 1 is "the data fails the policy" (the data sets hold planted faults);
    # a traceback exits 1 too, and a run that did not finish must not be timed.
    if (
        proc.returncode not in (0, 1)
        or "Traceback (most recent call last)" in errors
        or (expect is not None and not re.search(expect, errors))
    ):
        raise SystemExit(
            f"command failed (exit {proc.returncode}): {' '.join(argv[:6])} …\n{errors[-2000:]}"
        )
    # GNU time's last line is %M ("Command exited with non-zero status 1" may precede it).
    kib = int(rss_file.read_text().split()[-1]) if wrap else usage.ru_maxrss
    return Sample(elapsed, proc.returncode), kib


class Command(NamedTuple):
    """One command of a round (see `measure_rounds`)."""

    name: str
    argv: Sequence[str]
    cwd: Path
    env: dict[str, str] | None = None
    stdout: Path | None = None
    expect: str | None = None


def measure_rounds(commands: Sequence[Command], repeat: int) -> list[Timing]:
    """Commands compared with each other, timed in rounds: each is warmed up once (which
    also measures its peak RSS), then each round runs every command once, in turn. A
    shared machine that slows down or speeds up over minutes then moves all of them
    alike, and `paired_ratio` compares them round by round (timed one after the other,
    block by block, the same commit's ratio moved by a third between two runs)."""
    timings = [Timing(c.name, list(c.argv), str(c.cwd)) for c in commands]
    envs = [c.env or clean_env() for c in commands]
    round_seconds = 0.0
    for c, env, timing in zip(commands, envs, timings, strict=True):
        first, timing.rss_kib = run_once(c.argv, c.cwd, env, c.stdout, rss=True, expect=c.expect)
        round_seconds += first.seconds
    # One round while a round is this slow (the million-run audits, detect-secrets).
    for _ in range(1 if round_seconds > SLOW_ROUND_SECONDS else repeat):
        for c, env, timing in zip(commands, envs, timings, strict=True):
            timing.samples.append(run_once(c.argv, c.cwd, env, c.stdout, expect=c.expect)[0])
    for timing in timings:
        print(
            f"  {timing.name:<44} median {timing.median:8.3f} s  "
            f"(n={len(timing.samples)}, peak RSS {timing.rss_mib:6.1f} MiB)",
            file=sys.stderr,
            flush=True,
        )
    return timings


def audit_commands(exe: str, label: str, repo: Path, envelope: str, text: Path) -> list[Command]:
    """The cold (`--no-cache`) and the warm audit of `repo`, in that order: in rounds, the
    warm one's warm-up fills the cache before the first round. Every timed audit writes
    its signed-report file (`envelope`), as the job does; its text goes to `text`."""
    return [
        Command(
            f"expflow-git audit {'--no-cache' if extra else '(cache)'}, {label}",
            [exe, "audit", *extra, "--out", envelope],
            repo,
            clean_env(expflow=True),
            text,
            r"expflow-git audit: (PASS|FAIL)",
        )
        for extra in (["--no-cache"], [])
    ]


def paired_ratio(ours: Timing, *base: Timing) -> float:
    """The median of the rounds' ratios (`measure_rounds`: sample i of each is round i);
    several `base` timings are summed round by round (one tool run twice)."""
    rounds = zip(ours.samples, *(b.samples for b in base), strict=True)
    return float(statistics.median(a.seconds / sum(b.seconds for b in bs) for a, *bs in rounds))


# --------------------------------------------------------------------------- set-up


def expflow_bin() -> str:
    beside = Path(sys.executable).parent / "expflow-git"
    found = str(beside) if beside.exists() else shutil.which("expflow-git")
    if not found:
        raise SystemExit("expflow-git is not installed for this interpreter (pip install -e .)")
    return found


def ensure_baselines() -> None:
    have = all((BASE_BIN / exe).exists() for exe in ("check-jsonschema", "detect-secrets"))
    if have and subprocess.run([BASE_BIN / "python", "-c", "import orjson"]).returncode == 0:
        return
    print(f"installing baselines into {BASE_VENV} …", file=sys.stderr, flush=True)
    if not (BASE_BIN / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(BASE_VENV)], check=True)
    subprocess.run(
        [BASE_BIN / "pip", "install", "-q", "--disable-pip-version-check", *BASELINE_PACKAGES],
        check=True,
    )


def version_of(argv: Sequence[str]) -> str:
    proc = subprocess.run(list(argv), capture_output=True, text=True)
    return (proc.stdout or proc.stderr).strip().splitlines()[-1] if proc.returncode == 0 else "?"


def dataset(
    name: str,
    *,
    runs: int,
    plain: bool,
    invalid: int,
    planted: int,
    forms: int = 0,
    seed: int = 1,
) -> tuple[Path, dict[str, Any]]:
    """Build (or reuse) a data set under out/data; returns its path and manifest."""
    dest = DATA / name
    manifest_file = gen_repo.manifest_path(dest)
    spec = {
        "runs": runs,
        "studies": max(10, runs // 500),
        "invalid": invalid,
        "planted": planted,
        "decoys": 10 * planted,
        "seed": seed,
        "forms": forms,
    }
    if manifest_file.exists():
        manifest = json.loads(manifest_file.read_text())
        if manifest.get("spec") == spec and manifest.get("generator_version") == (
            gen_repo.GENERATOR_VERSION
        ):
            return dest, manifest
    print(f"building {dest} ({runs} runs) …", file=sys.stderr, flush=True)
    t0 = time.perf_counter()
    argv = [
        sys.executable,
        str(HERE / "gen_repo.py"),
        str(dest),
        "--force",
        f"--runs={runs}",
        f"--studies={spec['studies']}",
        f"--invalid={invalid}",
        f"--planted-pins={planted}",
        f"--forms={forms}",
        f"--seed={seed}",
    ]
    if plain:
        argv.append("--plain")
    DATA.mkdir(parents=True, exist_ok=True)
    subprocess.run(argv, check=True, env=clean_env(expflow=True))
    print(f"  built in {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
    return dest, json.loads(manifest_file.read_text())


def files_of(root: Path) -> list[str]:
    out: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d != ".git")
        rel = Path(dirpath).relative_to(root)
        out.extend((rel / f).as_posix() for f in sorted(filenames))
    return out


# --------------------------------------------------------------------------- parsing outputs

_FINDING_RE = re.compile(
    r"^(?P<path>[^\s:#]+?)(?::(?P<line>\d+):(?P<col>\d+))?(?:#\S*)?: (?P<rule>[a-z0-9-]+): "
)


def expflow_findings(path: Path) -> list[tuple[str, int | None, str]]:
    """(path, line, rule) from `expflow-git validate/scan/audit` text output."""
    out: list[tuple[str, int | None, str]] = []
    for raw in path.read_text(errors="replace").splitlines():
        m = _FINDING_RE.match(raw.strip())
        if m:
            line = int(m["line"]) if m["line"] else None
            out.append((m["path"], line, m["rule"]))
    return out


def recall(found: set[tuple[str, int]], manifest: dict[str, Any]) -> dict[str, Any]:
    """Planted hashes and other leak forms found, decoys and ordinary files flagged."""
    planted = {(p["path"], p["line"]) for p in manifest["planted"]}
    decoys = {(p["path"], p["line"]) for p in manifest["decoys"]}
    forms = {(p["path"], p["line"]) for p in manifest.get("forms", [])}
    ordinary = set(manifest.get("ordinary", []))
    by_family: dict[str, dict[str, int]] = {}
    for p in manifest.get("forms", []):
        fam = by_family.setdefault(p["family"], {"planted": 0, "found": 0})
        fam["planted"] += 1
        fam["found"] += (p["path"], p["line"]) in found
    return {
        "planted": len(planted),
        "planted_found": len(planted & found),
        "decoys": len(decoys),
        "decoys_flagged": len(decoys & found),
        "forms": by_family,
        "ordinary_files": len(ordinary),
        "ordinary_files_flagged": len({p for p, _ in found if p in ordinary}),
        "ordinary_lines_flagged": sum(1 for p, _ in found if p in ordinary),
        "other_findings": len(
            {(p, ln) for p, ln in found if p not in ordinary} - planted - decoys - forms
        ),
    }


# --------------------------------------------------------------------------- tasks


@dataclass
class Row:
    task: str
    ours: str
    base: str
    ratio: str
    goal: str
    met: str


@dataclass
class Bench:
    repeat: int
    quick: bool
    profile: bool
    rows: list[Row] = field(default_factory=list)
    raw: dict[str, object] = field(default_factory=dict)
    exe: str = field(default_factory=expflow_bin)
    million: bool = False  # task small: also 1M runs (--million)

    def add(
        self,
        task: str,
        ours: float | str,
        base: float | str,
        ratio: float | None,
        goal: str,
        met: bool | None,
    ) -> None:
        def cell(v: float | str) -> str:
            return f"{v:.3f}" if isinstance(v, float) else v

        self.rows.append(
            Row(
                task,
                cell(ours),
                cell(base),
                "" if ratio is None else f"{ratio:.3f}×" if ratio < 0.1 else f"{ratio:.2f}×",
                goal,
                "" if met is None else ("yes" if met else "NO"),
            )
        )

    # -- 1 + 5: audit vs floor, linearity, peak RSS ----------------------------
    def audit(self) -> None:
        sizes = (1_000, 10_000) if self.quick else (10_000, 100_000)
        per_doc: dict[int, float] = {}
        for runs in sizes:
            repo, man = dataset(f"repo-{runs}", runs=runs, plain=False, invalid=16, planted=100)
            docs = int(man["documents"])
            label = f"{runs // 1000}k runs"
            print(f"audit, {label} ({docs} documents):", file=sys.stderr, flush=True)
            floor_py = str(HERE / "floor.py")
            report = OUT / f"audit-{runs}.txt"
            envelope = str(OUT / f"audit-{runs}.report.json")
            floor_std, floor_orj, cold, warm = measure_rounds(
                [
                    Command(
                        f"floor {label} (git + json)",
                        [sys.executable, floor_py, str(repo), "--parser", "json"],
                        repo,
                    ),
                    Command(
                        f"floor {label} (git + orjson)",
                        [str(BASE_BIN / "python"), floor_py, str(repo), "--parser", "orjson"],
                        repo,
                    ),
                    *audit_commands(self.exe, label, repo, envelope, report),
                ],
                self.repeat,
            )
            found = {
                (p, ln) for p, ln, rule in expflow_findings(report) if rule == "pin-sha256" and ln
            }
            floor = floor_orj
            for mode, timing, goal in (
                ("cold (--no-cache)", cold, 3.0),
                ("warm (cache)", warm, 1.5),
            ):
                ratio = paired_ratio(timing, floor)
                self.add(
                    f"audit {label} {mode} vs floor [orjson]",
                    timing.median,
                    floor.median,
                    ratio,
                    f"≤ {goal:g}×",
                    ratio <= goal,
                )
            self.add(
                "  same, cold vs floor [stdlib json]",
                cold.median,
                floor_std.median,
                paired_ratio(cold, floor_std),
                "",
                None,
            )
            per_doc[runs] = cold.median / docs
            rss = max(cold.rss_mib, warm.rss_mib)
            if runs == sizes[-1]:
                self.add(
                    f"audit {label} peak RSS (MiB)", f"{rss:.0f}", "", None, "< 400 MiB", rss < 400
                )
            self.raw[f"audit_{runs}"] = {
                "documents": docs,
                "blobs": int(man["files"]),
                "floor_json": floor_std.as_json(),
                "floor_orjson": floor_orj.as_json(),
                "cold": cold.as_json(),
                "warm": warm.as_json(),
                "per_document_us_cold": 1e6 * cold.median / docs,
                "per_document_us_warm": 1e6 * warm.median / docs,
                "per_document_us_floor_orjson": 1e6 * floor_orj.median / docs,
                "pin_hash_recall": recall(found, man),
            }
            if self.profile and runs == sizes[0]:
                self.profile_audit(repo, runs)
        small, large = sizes
        ratio = per_doc[large] / per_doc[small]
        self.add(
            f"audit cold per document µs, {large // 1000}k vs {small // 1000}k",
            f"{1e6 * per_doc[large]:.1f}",
            f"{1e6 * per_doc[small]:.1f}",
            ratio,
            "≈ 1× (linear; ≤ 1.25×)",
            ratio <= 1.25,
        )

    def profile_audit(self, repo: Path, runs: int) -> None:
        prof_dir = OUT / "profile"
        prof_dir.mkdir(parents=True, exist_ok=True)
        pstats_file = prof_dir / f"audit-{runs}.pstats"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "cProfile",
                "-o",
                str(pstats_file),
                "-m",
                "expflow_git",
                "audit",
                "--no-cache",
            ],
            cwd=repo,
            env=clean_env(expflow=True),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        import io
        import pstats

        for order in ("cumulative", "tottime"):
            buf = io.StringIO()
            pstats.Stats(str(pstats_file), stream=buf).sort_stats(order).print_stats(35)
            (prof_dir / f"audit-{runs}.{order}.txt").write_text(buf.getvalue())
        print(f"  profile written to {prof_dir}/audit-{runs}.*.txt", file=sys.stderr)

    # -- 1c: the audit on many small documents (issue 18, small_docs.py) ---------
    def small(self) -> None:
        small_docs.run_small(self, million=self.million)

    # -- 2: validate vs check-jsonschema -----------------------------------------
    def plain(self) -> tuple[Path, dict[str, Any]]:
        runs = 500 if self.quick else 5_000
        # 20 files of each other leak form (13 forms) and 260 ordinary files beside them.
        return dataset(f"plain-{runs}", runs=runs, plain=True, invalid=16, planted=100, forms=20)

    def validate(self) -> None:
        root, man = self.plain()
        files = files_of(root)
        exps = [f for f in files if f.startswith("experiments/")]
        ress = [f for f in files if f.startswith("results/")]
        n = len(exps) + len(ress)
        # Plain directory inside this repository's work tree: stop git discovery at it.
        env = clean_env(GIT_CEILING_DIRECTORIES=str(root.parent))
        ours_env = clean_env(expflow=True, GIT_CEILING_DIRECTORIES=str(root.parent))
        print(f"validate, {n} files:", file=sys.stderr, flush=True)
        ours_out = OUT / "validate-expflow.txt"
        cj = [str(BASE_BIN / "check-jsonschema"), "--output-format", "json", "--schemafile"]
        cj_exp_out, cj_res_out = OUT / "validate-cj-exp.json", OUT / "validate-cj-res.json"
        ours, base_exp, base_res = measure_rounds(
            [
                Command(
                    f"expflow-git validate ({n} files)",
                    [self.exe, "validate", *exps, *ress],
                    root,
                    ours_env,
                    ours_out,
                    r"expflow-git validate: ",
                ),
                Command(
                    f"check-jsonschema experiments ({len(exps)} files)",
                    [*cj, str(SCHEMAS / "experiment.schema.json"), *exps],
                    root,
                    env,
                    cj_exp_out,
                ),
                Command(
                    f"check-jsonschema results ({len(ress)} files)",
                    [*cj, RESULT_SCHEMA, *ress],
                    root,
                    env,
                    cj_res_out,
                ),
            ],
            self.repeat,
        )
        base = base_exp.median + base_res.median
        ratio = paired_ratio(ours, base_exp, base_res)
        self.add(
            f"validate {n} files vs check-jsonschema (2 runs)",
            ours.median,
            base,
            ratio,
            "≤ 0.10× (10× faster)",
            ratio <= 0.10,
        )
        flagged_ours = {p for p, _, _ in expflow_findings(ours_out)}
        flagged_cj: set[str] = set()
        for f in (cj_exp_out, cj_res_out):
            report = json.loads(f.read_text())
            flagged_cj |= {e["filename"] for e in report.get("errors", [])}
            flagged_cj |= {e["filename"] for e in report.get("parse_errors", [])}
        invalid = man["invalid"]
        by_kind: dict[str, dict[str, int]] = {}
        for inv in invalid:
            k = by_kind.setdefault(
                inv["caught_by"], {"planted": 0, "expflow": 0, "check_jsonschema": 0}
            )
            k["planted"] += 1
            k["expflow"] += inv["path"] in flagged_ours
            k["check_jsonschema"] += inv["path"] in flagged_cj
        self.add(
            f"  invalid documents flagged (of {len(invalid)})",
            f"{sum(k['expflow'] for k in by_kind.values())}",
            f"{sum(k['check_jsonschema'] for k in by_kind.values())}",
            None,
            "all",
            None,
        )
        self.raw["validate"] = {
            "files": n,
            "expflow": ours.as_json(),
            "check_jsonschema_experiments": base_exp.as_json(),
            "check_jsonschema_results": base_res.as_json(),
            "baseline_sum_s": base,
            "invalid_flagged_by_kind": by_kind,
            "files_flagged": {"expflow": len(flagged_ours), "check_jsonschema": len(flagged_cj)},
        }

    # -- 3: scan vs detect-secrets -----------------------------------------------
    def scan(self) -> None:
        root, man = self.plain()
        files = files_of(root)
        env = clean_env(GIT_CEILING_DIRECTORIES=str(root.parent))
        ours_env = clean_env(expflow=True, GIT_CEILING_DIRECTORIES=str(root.parent))
        n = len(files)
        print(f"scan, {n} files:", file=sys.stderr, flush=True)
        ours_out = OUT / "scan-expflow.txt"
        ds_out = OUT / "scan-detect-secrets.json"
        ours, base = measure_rounds(
            [
                Command(
                    f"expflow-git scan ({n} files)",
                    [self.exe, "scan", *files],
                    root,
                    ours_env,
                    ours_out,
                    r"expflow-git scan: ",
                ),
                Command(
                    f"detect-secrets scan ({n} files)",
                    [str(BASE_BIN / "detect-secrets"), "scan", *files],
                    root,
                    env,
                    ds_out,
                ),
            ],
            self.repeat,
        )
        found_ours = {(p, ln) for p, ln, _ in expflow_findings(ours_out) if ln}
        ds = json.loads(ds_out.read_text())["results"]
        found_ds = {(f, s["line_number"]) for f, lst in ds.items() for s in lst}
        r_ours, r_ds = recall(found_ours, man), recall(found_ds, man)
        ratio = paired_ratio(ours, base)
        full = r_ours["planted_found"] == r_ours["planted"] and r_ours["decoys_flagged"] == 0
        self.add(
            f"scan {n} files vs detect-secrets",
            ours.median,
            base.median,
            ratio,
            "≤ 0.02× (50× faster)",
            ratio <= 0.02,
        )
        self.add(
            f"  planted PIN hashes found (of {r_ours['planted']})",
            str(r_ours["planted_found"]),
            str(r_ds["planted_found"]),
            None,
            "all",
            full,
        )
        self.add(
            f"  random SHA-256 decoys flagged (of {r_ours['decoys']})",
            str(r_ours["decoys_flagged"]),
            str(r_ds["decoys_flagged"]),
            None,
            "0",
            r_ours["decoys_flagged"] == 0,
        )
        for family, counts in r_ours["forms"].items():
            self.add(
                f"  {family} found (of {counts['planted']})",
                str(counts["found"]),
                str(r_ds["forms"][family]["found"]),
                None,
                "all",
                counts["found"] == counts["planted"],
            )
        if r_ours["ordinary_files"]:
            self.add(
                f"  ordinary files flagged (of {r_ours['ordinary_files']})",
                str(r_ours["ordinary_files_flagged"]),
                str(r_ds["ordinary_files_flagged"]),
                None,
                "0",
                r_ours["ordinary_files_flagged"] == 0,
            )
        self.add(
            "  other findings (lines)",
            str(r_ours["other_findings"]),
            str(r_ds["other_findings"]),
            None,
            "",
            None,
        )
        self.raw["scan"] = {
            "files": n,
            "expflow": ours.as_json(),
            "detect_secrets": base.as_json(),
            "recall_expflow": r_ours,
            "recall_detect_secrets": r_ds,
        }

    # -- 6: a sweep's results, records, one file (issue 18; sweep_task below) ------
    def sweep(self) -> None:
        sweep_task(self)

    # -- 4: one-file hook ----------------------------------------------------------
    def hook(self) -> None:
        runs = 1_000 if self.quick else 10_000
        repo, man = dataset(f"repo-{runs}", runs=runs, plain=False, invalid=16, planted=100)
        bad = {p["path"] for p in man["invalid"]}
        bad |= {p["path"] for p in man["planted"]} | {p["path"] for p in man["decoys"]}
        one = next(
            f"results/study-000/000-r{i:07d}.json"
            for i in range(0, runs, 10)
            if f"results/study-000/000-r{i:07d}.json" not in bad
            and f"experiments/study-000/000-r{i:07d}.json" not in bad
        )
        print(f"one-file hook ({one} in the {runs // 1000}k-run repository):", file=sys.stderr)
        ours, base, floor = measure_rounds(
            [
                Command(
                    "expflow-git validate ONE",
                    [self.exe, "validate", "--staged", "--", one],  # as the hook runs it
                    repo,
                    clean_env(expflow=True),
                    expect=r"expflow-git validate: ",
                ),
                Command(
                    "check-jsonschema ONE",
                    [str(BASE_BIN / "check-jsonschema"), "--schemafile", RESULT_SCHEMA, one],
                    repo,
                ),
                Command("python -c pass", [sys.executable, "-c", "pass"], repo),
            ],
            max(self.repeat, 5),
        )
        ratio = paired_ratio(ours, base)
        self.add(
            "one-file hook: validate ONE vs check-jsonschema",
            ours.median,
            base.median,
            ratio,
            "≤ 0.5×",  # issue 18's goal (issue 6 asked for 0.6×)
            ratio <= 0.5,
        )
        self.add(
            "  same vs `python -c pass` (floor)",
            ours.median,
            floor.median,
            paired_ratio(ours, floor),
            "",
            None,
        )
        self.raw["hook"] = {
            "file": one,
            "repo_runs": runs,
            "expflow": ours.as_json(),
            "check_jsonschema": base.as_json(),
            "python_c_pass": floor.as_json(),
        }
        if self.profile:
            prof_dir = OUT / "profile"
            prof_dir.mkdir(parents=True, exist_ok=True)
            proc = subprocess.run(
                [sys.executable, "-X", "importtime", "-m", "expflow_git", "validate", one],
                cwd=repo,
                env=clean_env(expflow=True),
                capture_output=True,
                text=True,
            )
            (prof_dir / "importtime-validate.txt").write_text(proc.stderr)
            rows = []
            for line in proc.stderr.splitlines():
                m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|(\s*)(\S+)", line)
                if m:
                    rows.append((int(m[2]), int(m[1]), len(m[3]) // 2, m[4]))
            top = sorted((r for r in rows if r[2] <= 1), reverse=True)[:25]
            (prof_dir / "importtime-validate.top.txt").write_text(
                "cumulative_us self_us module (top-level imports)\n"
                + "".join(f"{c:>12} {s:>8} {name}\n" for c, s, _, name in top)
            )
            print(f"  import times written to {prof_dir}/importtime-validate*.txt", file=sys.stderr)


# --------------------------------------------------------------------------- sweep (issue 18)
# A sweep's results landing in one commit, its records committed at launch: the hook's
# worst case before issue 18 (two git processes per result). Small documents, as the
# issue's workload: records of ~550 bytes (three params, a provenance block), results of
# ~430 bytes (three metrics). Kept apart from the tasks above so the blocks merge apart.

SWEEP_RUNS = 2_000


def sweep_repo(runs: int) -> tuple[Path, list[str], list[str]]:
    """A repository with `runs` records committed (packed, as a clone is) and their results
    staged: (root, record paths, result paths). Built once under out/data/."""
    import random

    dest = DATA / f"sweep-{runs}"
    exps = [f"experiments/sweep/r{i:06d}.json" for i in range(runs)]
    ress = [f"results/sweep/r{i:06d}.json" for i in range(runs)]
    done = dest / ".built-v1"
    if done.exists():
        return dest, exps, ress
    print(f"building {dest} ({runs} runs, small documents) …", file=sys.stderr, flush=True)
    shutil.rmtree(dest, ignore_errors=True)
    (dest / "experiments/sweep").mkdir(parents=True)
    (dest / "results/sweep").mkdir(parents=True)
    rng = random.Random(18)
    env = clean_env(GIT_AUTHOR_DATE="1795000000 +0000", GIT_COMMITTER_DATE="1795000000 +0000")
    env.update(GIT_AUTHOR_NAME="bench", GIT_AUTHOR_EMAIL="bench@example.com")
    env.update(GIT_COMMITTER_NAME="bench", GIT_COMMITTER_EMAIL="bench@example.com")

    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=dest, env=env, check=True, capture_output=True)

    git("init", "-q", "-b", "main")
    (dest / "expflow.yaml").write_text(gen_repo.competition_policy())
    for i, (exp_path, res_path) in enumerate(zip(exps, ress, strict=True)):
        exp_id = f"r{i:06d}"
        created, recorded = gen_repo.stamp(rng)
        record = {
            "schema": "expflow/experiment@1",
            "id": exp_id,
            "study": "sweep",
            "created_at": created,
            "status": "success",
            "seed": rng.randrange(0, 2**31 - 1),
            "params": {
                "Args/--sub_step": rng.choice((1, 2, 5)),
                "lr": rng.choice((1e-4, 1e-3)),
                "model": "fno",
            },
            "provenance": gen_repo.provenance(rng, created),
        }
        res = {
            "schema": "expflow/result@1",
            "experiment": exp_id,
            "recorded_at": recorded,
            "metrics": {
                "seg_total": round(rng.uniform(30, 75), 3),
                "pde_mean": round(rng.uniform(8, 24), 3),
                "train_time_min": round(rng.uniform(5, 75), 2),
            },
            "provenance": gen_repo.provenance(rng, recorded),
        }
        (dest / exp_path).write_bytes(gen_repo.dump(record))
        (dest / res_path).write_bytes(gen_repo.dump(res))
    git("add", "expflow.yaml", "experiments")
    # (no automatic gc in the background: past ~6,700 loose objects the commit starts one,
    # and the `gc` below then failed, "gc is already running")
    git("-c", "gc.auto=0", "commit", "-q", "--no-verify", "-m", "launch the sweep")
    git("gc", "-q")
    git("add", "results")  # staged, as in the commit the hook judges
    done.write_text("")
    return dest, exps, ress


def sweep_task(bench: Bench) -> None:
    """validate of a sweep's staged results (records committed), of its records, and of
    one result (the one-file hook), each against check-jsonschema on the same files."""
    runs = 200 if bench.quick else SWEEP_RUNS
    repo, exps, ress = sweep_repo(runs)
    print(f"sweep, {runs} runs (small documents):", file=sys.stderr, flush=True)
    ours_env = clean_env(expflow=True)
    cj = str(BASE_BIN / "check-jsonschema")
    exp_schema = str(SCHEMAS / "experiment.schema.json")
    summary = r"expflow-git validate: "
    results_only, records, base = measure_rounds(
        [
            *(
                Command(
                    f"expflow-git validate {runs} {what}",
                    [bench.exe, "validate", "--staged", "--", *files],  # as the hook runs it
                    repo,
                    ours_env,
                    expect=summary,
                )
                for what, files in (("results", ress), ("records", exps))
            ),
            Command(
                f"check-jsonschema {runs} records", [cj, "--schemafile", exp_schema, *exps], repo
            ),
        ],
        bench.repeat,
    )
    one = ress[len(ress) // 2]
    hook, hook_base = measure_rounds(
        [
            Command(
                "expflow-git validate ONE (sweep)",
                [bench.exe, "validate", "--staged", "--", one],
                repo,
                ours_env,
                expect=summary,
            ),
            Command("check-jsonschema ONE (sweep)", [cj, "--schemafile", RESULT_SCHEMA, one], repo),
        ],
        max(bench.repeat, 5),
    )
    for task, ours, goal in (
        (f"validate {runs} results (records committed) vs check-jsonschema", results_only, 1.0),
        (f"validate {runs} records vs check-jsonschema", records, 0.1),
    ):
        ratio = paired_ratio(ours, base)
        bench.add(task, ours.median, base.median, ratio, f"≤ {goal:g}×", ratio <= goal)
    ratio = paired_ratio(hook, hook_base)
    bench.add(
        "one-file hook (sweep) vs check-jsonschema",
        hook.median,
        hook_base.median,
        ratio,
        "≤ 0.5×",
        ratio <= 0.5,
    )
    bench.raw["sweep"] = {
        "runs": runs,
        "validate_results": results_only.as_json(),
        "validate_records": records.as_json(),
        "check_jsonschema_records": base.as_json(),
        "hook": hook.as_json(),
        "check_jsonschema_one": hook_base.as_json(),
    }
    if bench.profile:
        prof_dir = OUT / "profile"
        prof_dir.mkdir(parents=True, exist_ok=True)
        for name, paths in (("results", ress), ("one", [one])):
            target = prof_dir / f"validate-sweep-{name}.prof"
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "cProfile",
                    "-o",
                    str(target),
                    "-m",
                    "expflow_git",
                    "validate",
                    "--",
                    *paths,
                ],
                cwd=repo,
                env={**ours_env, "EXPFLOW_JOBS": "1"},
                capture_output=True,
            )
        print(f"  cProfile of the sweep's validate written to {prof_dir}", file=sys.stderr)


# --------------------------------------------------------------------------- output


def table(rows: Sequence[Row]) -> str:
    head = Row("task", "expflow-git (s)", "baseline (s)", "ratio", "goal", "met?")
    cols = list(
        zip(*[(r.task, r.ours, r.base, r.ratio, r.goal, r.met) for r in [head, *rows]], strict=True)
    )
    widths = [max(len(c) for c in col) for col in cols]
    lines = []
    for i, r in enumerate([head, *rows]):
        cells = (r.task, r.ours, r.base, r.ratio, r.goal, r.met)
        lines.append(
            "| "
            + " | ".join(
                c.ljust(w) if j in (0, 4, 5) else c.rjust(w)
                for j, (c, w) in enumerate(zip(cells, widths, strict=True))
            )
            + " |"
        )
        if i == 0:
            lines.append(
                "|"
                + "|".join(
                    ("-" * (w + 1) + ":" if j in (1, 2, 3) else "-" * (w + 2))
                    for j, w in enumerate(widths)
                )
                + "|"
            )
    return "\n".join(lines)


def fmt_load(load: tuple[float, float, float]) -> str:
    return "/".join(f"{x:.1f}" for x in load)


def code_state() -> str:
    """The commit of the code measured, `+dirty` when product files are uncommitted."""

    def git_here(*args: str) -> str:
        proc = subprocess.run(
            ["git", "-C", str(HERE.parent), *args], capture_output=True, text=True
        )
        return proc.stdout.strip() if proc.returncode == 0 else "?"

    probe = "import expflow_git, pathlib; print(pathlib.Path(expflow_git.__file__).parent.parent)"
    where = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        env=clean_env(expflow=True),
        cwd="/",
    ).stdout.strip()
    if where and Path(where).resolve() != HERE.parent.resolve():
        return f"code from {where}"  # e.g. a snapshot put first on PYTHONPATH
    commit = git_here("rev-parse", "--short=12", "HEAD")
    dirty = git_here("status", "--porcelain", "--", "expflow_git", "schemas", "pyproject.toml")
    return commit + ("+dirty" if dirty else "")


def environment(exe: str) -> dict[str, object]:
    return {
        "code_at_start": code_state(),
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "git": version_of(["git", "--version"]),
        "expflow_git": version_of([exe, "--version"]),
        "check_jsonschema": version_of([str(BASE_BIN / "check-jsonschema"), "--version"]),
        "detect_secrets": version_of([str(BASE_BIN / "detect-secrets"), "--version"]),
        "orjson": version_of(
            [str(BASE_BIN / "python"), "-c", "import orjson; print(orjson.__version__)"]
        ),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="small smoke run (1k / 10k sizes)")
    ap.add_argument("--repeat", type=int, default=3, help="timed repetitions (median); default 3")
    ap.add_argument(
        "--tasks",
        # The short, start-up-bound timings first; detect-secrets (its own process pool)
        # leaves the machine busy for a while, so the scan comes last.
        default="hook,sweep,validate,audit,small,scan",
        help="comma-separated subset of hook,sweep,validate,audit,small,scan, run in that order",
    )
    ap.add_argument(
        "--million",
        action="store_true",
        default=os.environ.get("EXPFLOW_BENCH_MILLION") == "1",
        help="task small: also 1,000,000 runs (long; or EXPFLOW_BENCH_MILLION=1)",
    )
    ap.add_argument("--json", type=Path, metavar="OUT", help="write the raw numbers here")
    ap.add_argument(
        "--profile",
        action="store_true",
        help="also write a cProfile of the audit and -X importtime of the hook",
    )
    args = ap.parse_args(argv)
    tasks = [t.strip() for t in args.tasks.split(",") if t.strip()]
    unknown = set(tasks) - {"audit", "validate", "scan", "hook", "sweep", "small"}
    if unknown or args.repeat < 1:
        ap.error(f"unknown task(s): {', '.join(sorted(unknown))}" if unknown else "--repeat ≥ 1")
    OUT.mkdir(parents=True, exist_ok=True)
    ensure_baselines()
    t0 = time.perf_counter()
    bench = Bench(repeat=args.repeat, quick=args.quick, profile=args.profile)
    bench.million = args.million
    start_load = os.getloadavg()
    env_info = environment(bench.exe)
    for task in tasks:
        getattr(bench, task)()
    end_state = code_state()
    total = time.perf_counter() - t0
    print()
    print(
        f"expflow-git benchmarks — {env_info['date']}, {env_info['cpus']} CPUs, "
        f"Python {env_info['python']}, {env_info['git']}, {env_info['expflow_git']} "
        f"at {env_info['code_at_start']}"
    )
    if end_state != env_info["code_at_start"]:
        print(f"WARNING: the code changed during the run (at the end: {end_state})")
    print(
        f"medians of {args.repeat} run(s) after one warm-up (one-file hook: ≥ 5 runs); "
        "ratio = expflow-git / baseline, the median of the ratios of rounds that run "
        "both in turn"
    )
    print()
    print(table(bench.rows))
    load = os.getloadavg()
    print(
        f"\ntotal benchmark time {total:.0f} s; load average (1/5/15 min) at start "
        f"{fmt_load(start_load)}, at end {fmt_load(load)}"
    )
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "environment": env_info,
                    "repeat": args.repeat,
                    "quick": args.quick,
                    "total_s": total,
                    "loadavg_at_start": start_load,
                    "loadavg_at_end": load,
                    "code_at_end": end_state,
                    "rows": [vars(r) for r in bench.rows],
                    "raw": bench.raw,
                },
                indent=2,
                ensure_ascii=False,
            )
            + "\n"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
