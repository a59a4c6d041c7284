"""Synthetic experiment repositories for the benchmarks (deterministic for a given --seed).

    python benchmarks/gen_repo.py DEST --runs N --studies S [--invalid K]
        [--planted-pins P] [--decoys D] [--forms F] [--seed X] [--plain] [--no-checkout]

Writes, under DEST:

- ``expflow.yaml``: the standard competition registry (``init --template competition``);
- ``experiments/<study>/<id>.json`` and ``results/<study>/<id>.json`` for N runs
  spread over S studies: realistic records (``Args/--sub_step`` and other params,
  a provenance block) and results (the 13 registry metrics within their bounds,
  a ``holdout`` split), some of them infeasible (over a threshold);
- K invalid documents (they replace valid ones; the kinds cycle through
  schema errors, strict-JSON errors and registry errors, see ``INVALID_KINDS``);
- ``notes/<study>/*.txt``: free-text lab notes;
- P SHA-256 hashes of random four-digit PINs planted in otherwise normal
  content (half in notes, half as a ``dataset_sha256`` param of a record), and
  D (default 10 × P) random SHA-256 hashes placed the same way as decoys
  (at most a quarter of the records carry one; the rest go to notes);
- F of each of the other forms a PIN or a key leaks in (``FORMS``: nested
  ``pin`` keys in YAML/JSON/TOML, lines in Jupyter notebooks, ``--pin`` on a
  command line in shell scripts, Makefiles and CI files, private keys), each in
  its own file among as many ordinary files of the same kinds (configs with
  ``pin_memory``, notebooks with outputs and images, scripts that take the PIN
  from the environment, docs that mention key headers, public keys and
  certificates), which no tool should flag;
- ``DEST.manifest.json`` (beside DEST, not inside it): the planted and decoy
  locations (path, line), the planted forms (path, line, form), the ordinary
  files, the invalid documents and their kind, and the counts, so the runner
  can compute recall and false positives.

Without ``--plain`` everything is committed in one commit with ``git
fast-import`` (fixed author and dates, so the commit id depends only on the
arguments), then ``git repack -adq`` and ``git gc -q`` pack it as a clone
would be, and the tree is checked out (``--no-checkout`` skips that).
With ``--plain`` DEST is a plain directory: no git at all.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import random
import shutil
import subprocess
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

GENERATOR_VERSION = 3  # bump when the output for the same arguments changes

# The strings a planted hash hides in; decoys use the same ones.
NOTE_TEMPLATES = (
    "checksum of the input shard: {h}",
    "sha256({name}) = {h}",
    "dataset digest {h} (verified after download)",
    "re-ran with the cached features, digest {h}",
)
NOTE_LINES = (
    "Loss plateaued after epoch {e}; lowered lr to {lr}.",
    "Sub-step sweep: {s} looked best on the holdout split.",
    "GPU {g} was shared with another job, timings are noisy.",
    "Validation MSE {v:.4f}, relative {r:.4f}.",
    "TODO: rerun seed {seed} with the larger width.",
    "Compared against the FNO baseline of {d}; see the leaderboard.",
)
MODELS = ("fno", "unet", "ffno", "deeponet", "transolver")
TAGS = ("task1", "task2", "sweep", "baseline", "ablation", "long", "fp16", "bf16")
HOSTS = tuple(f"gpu-{i}" for i in range(1, 9))

# Invalid documents: (name, kind of document, what check catches it, which tools should).
#   schema   - any JSON Schema validator flags it (expflow-git and check-jsonschema)
#   strict   - only a strict JSON reader flags it (NaN, duplicate key)
#   registry - only the policy's registry flags it (unknown metric, out of range)
INVALID_KINDS = (
    ("missing-metrics", "result", "schema"),
    ("bad-status", "experiment", "schema"),
    ("metric-is-string", "result", "schema"),
    ("nan-metric", "result", "strict"),
    ("duplicate-key", "experiment", "strict"),
    ("unknown-metric", "result", "registry"),
    ("negative-train-time", "result", "registry"),
    ("extra-top-level-key", "experiment", "schema"),
)


@dataclass
class Spec:
    runs: int
    studies: int
    invalid: int
    planted: int
    decoys: int
    seed: int
    forms: int = 0


@dataclass
class Manifest:
    spec: Spec
    files: int = 0
    documents: int = 0
    experiments: int = 0
    results: int = 0
    notes: int = 0
    planted: list[dict[str, object]] = field(default_factory=list)
    decoys: list[dict[str, object]] = field(default_factory=list)
    invalid: list[dict[str, str]] = field(default_factory=list)
    forms: list[dict[str, object]] = field(default_factory=list)
    ordinary: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, object]:
        return {
            "generator_version": GENERATOR_VERSION,
            "spec": vars(self.spec),
            "files": self.files,
            "documents": self.documents,
            "experiments": self.experiments,
            "results": self.results,
            "notes": self.notes,
            "planted": self.planted,
            "decoys": self.decoys,
            "invalid": self.invalid,
            "forms": self.forms,
            "ordinary": self.ordinary,
        }


def manifest_path(dest: Path) -> Path:
    """Where the manifest of the data set at `dest` goes (beside it, not in it)."""
    return dest.with_name(dest.name + ".manifest.json")


def competition_policy() -> str:
    """The `init --template competition` policy, from the installed package."""
    from expflow_git.records.scaffold import COMPETITION_POLICY

    return COMPETITION_POLICY


def dump(doc: Mapping[str, object]) -> bytes:
    """As `expflow-git new/result` writes documents: two-space indent, final newline."""
    return (json.dumps(doc, indent=2, ensure_ascii=False, allow_nan=False) + "\n").encode()


def stamp(rng: random.Random, base: int = 1_795_000_000) -> tuple[str, str]:
    """Two ordered UTC timestamps (created, recorded) in late 2026."""
    import datetime as dt

    start = base + rng.randrange(0, 40 * 86400)
    end = start + rng.randrange(600, 6 * 3600)

    def fmt(t: int) -> str:
        return dt.datetime.fromtimestamp(t, tz=dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")

    return fmt(start), fmt(end)


def provenance(rng: random.Random, when: str) -> dict[str, object]:
    return {
        "git_sha": f"{rng.getrandbits(160):040x}",
        "git_dirty": rng.random() < 0.1,
        "host": rng.choice(HOSTS),
        "platform": "Linux-6.1.0-18-amd64-x86_64-with-glibc2.36",
        "python_version": "3.11.7",
        "package_versions": {"torch": "2.4.0", "numpy": "1.26.4", "expflow-git": "0.1.0"},
        "captured_at": when,
    }


def experiment(rng: random.Random, exp_id: str, study: str) -> dict[str, Any]:
    created, _ = stamp(rng)
    model = rng.choice(MODELS)
    sub_step = rng.choice((1, 2, 3, 5, 8, 10))
    lr = rng.choice((1e-4, 3e-4, 1e-3, 3e-3))
    return {
        "schema": "expflow/experiment@1",
        "id": exp_id,
        "study": study,
        "title": f"{model.upper()} {sub_step} sub-steps, lr={lr:g}",
        "created_at": created,
        "tags": sorted(rng.sample(TAGS, rng.randrange(1, 4))),
        "status": "success",
        "seed": rng.randrange(0, 2**31 - 1),
        "params": {
            "Args/--sub_step": sub_step,
            "Args/--width": rng.choice((32, 64, 128)),
            "Args/--modes": rng.choice((8, 12, 16)),
            "lr": lr,
            "batch_size": rng.choice((16, 32, 64)),
            "model": model,
            "fp16": rng.random() < 0.5,
            "dataset": f"pdebench/{study}",
        },
        "provenance": provenance(rng, created),
    }


def result(rng: random.Random, exp_id: str) -> dict[str, Any]:
    _, recorded = stamp(rng)
    segs = [round(rng.uniform(10, 25), 3) for _ in range(3)]
    pdes = [round(rng.uniform(8, 24), 3) for _ in range(3)]
    total = round(sum(segs), 3)
    pde_mean = round(sum(pdes) / 3, 3)
    metrics = {
        "seg_total": total,
        "seg1": segs[0],
        "seg2": segs[1],
        "seg3": segs[2],
        "val_mse": round(rng.uniform(1e-4, 5e-2), 6),
        "val_relmse": round(rng.uniform(1e-3, 0.3), 6),
        "pde_mean": pde_mean,
        "pde_seg1": pdes[0],
        "pde_seg2": pdes[1],
        "pde_seg3": pdes[2],
        "train_time_min": round(rng.uniform(5, 75), 2),
        "arch_params": rng.choice((1_200_000, 2_400_000, 9_600_000, 31_000_000)),
        "epochs": rng.choice((50, 100, 200, 500)),
    }
    holdout = {
        "seg_total": round(total * rng.uniform(0.85, 1.05), 3),
        "pde_mean": round(pde_mean * rng.uniform(0.95, 1.2), 3),
    }
    return {
        "schema": "expflow/result@1",
        "experiment": exp_id,
        "recorded_at": recorded,
        "metrics": metrics,
        "splits": {"holdout": holdout},
        "provenance": provenance(rng, recorded),
    }


def spoil(name: str, doc: dict[str, Any]) -> bytes:
    """The bytes of an invalid variant of `doc` (see INVALID_KINDS)."""
    d = json.loads(json.dumps(doc))
    if name == "missing-metrics":
        del d["metrics"]
    elif name == "bad-status":
        d["status"] = "done"
    elif name == "metric-is-string":
        d["metrics"]["seg_total"] = "57.1"
    elif name == "nan-metric":
        return dump(d).replace(b'"val_mse": ', b'"val_mse": NaN, "val_mse_orig": ', 1)
    elif name == "duplicate-key":
        return dump(d).replace(
            b'"status": "success"', b'"status": "failed", "status": "success"', 1
        )
    elif name == "unknown-metric":
        d["metrics"]["seg_totl"] = 1.0
    elif name == "negative-train-time":
        d["metrics"]["train_time_min"] = -3.5
    elif name == "extra-top-level-key":
        d["owner"] = "someone"
    else:
        raise ValueError(name)
    return dump(d)


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def line_of(data: bytes, needle: bytes) -> int:
    return data[: data.index(needle)].count(b"\n") + 1


def generate(spec: Spec, man: Manifest) -> Iterator[tuple[str, bytes]]:
    """Yield (path, content) for every file, in a fixed order, filling in `man`."""
    rng = random.Random(spec.seed)
    studies = [f"study-{i:03d}" for i in range(spec.studies)]
    n_notes = max(1, spec.runs // 100, (spec.planted + spec.decoys + 1) // 2)
    # Which runs carry a hash param and which note lines carry a hash: chosen up front.
    # Distinct PINs, so every planted token (and its line) is unique.
    pins = rng.sample(range(10000), min(spec.planted, 10000))
    hashes = [("planted", sha256_hex(f"{pin:04d}")) for pin in pins]
    hashes += [("decoy", f"{rng.getrandbits(256):064x}") for _ in range(spec.decoys)]
    rng.shuffle(hashes)
    # Half in records, but never more than a quarter of them (the rest goes
    # to notes), so small data sets keep runs free for invalid documents.
    n_params = min(len(hashes) // 2, spec.runs // 4)
    in_params, in_notes = hashes[:n_params], hashes[n_params:]
    param_runs = dict(zip(rng.sample(range(spec.runs), n_params), in_params, strict=True))
    note_slots: dict[int, list[tuple[str, str]]] = {}
    for item in in_notes:
        note_slots.setdefault(rng.randrange(n_notes), []).append(item)
    free = [i for i in range(spec.runs) if i not in param_runs]
    chosen = rng.sample(free, min(spec.invalid, len(free)))
    invalid_runs = {run: INVALID_KINDS[k % len(INVALID_KINDS)] for k, run in enumerate(chosen)}

    def record(kind: str, path: str, data: bytes, token: str) -> None:
        entry = {"path": path, "line": line_of(data, token.encode())}
        (man.planted if kind == "planted" else man.decoys).append(entry)

    yield "expflow.yaml", competition_policy().encode()
    man.files += 1
    for i in range(spec.runs):
        study = studies[i % spec.studies]
        exp_id = f"{study[6:]}-r{i:07d}"
        exp = experiment(rng, exp_id, study)
        res = result(rng, exp_id)
        exp_path = f"experiments/{study}/{exp_id}.json"
        res_path = f"results/{study}/{exp_id}.json"
        hashed = param_runs.get(i)
        if hashed is not None:
            exp["params"]["dataset_sha256"] = hashed[1]
        exp_bytes, res_bytes = dump(exp), dump(res)
        bad = invalid_runs.get(i)
        if bad is not None:
            name, which, caught_by = bad
            if which == "experiment":
                exp_bytes = spoil(name, exp)
            else:
                res_bytes = spoil(name, res)
            man.invalid.append(
                {
                    "path": exp_path if which == "experiment" else res_path,
                    "kind": name,
                    "caught_by": caught_by,
                }
            )
        if hashed is not None:
            record(hashed[0], exp_path, exp_bytes, hashed[1])
        yield exp_path, exp_bytes
        yield res_path, res_bytes
        man.files += 2
        man.documents += 2
        man.experiments += 1
        man.results += 1
    for n in range(n_notes):
        study = studies[n % spec.studies]
        path = f"notes/{study}/note-{n:05d}.txt"
        lines = [f"# Lab notes {n} for {study}", ""]
        for _ in range(rng.randrange(6, 16)):
            lines.append(
                rng.choice(NOTE_LINES).format(
                    e=rng.randrange(10, 500),
                    lr=rng.choice((1e-4, 3e-4)),
                    s=rng.randrange(1, 10),
                    g=rng.randrange(8),
                    v=rng.random(),
                    r=rng.random(),
                    seed=rng.randrange(2**31 - 1),
                    d=rng.choice(MODELS),
                )
            )
        for _, h in note_slots.get(n, []):
            at = rng.randrange(2, len(lines) + 1)
            lines.insert(at, rng.choice(NOTE_TEMPLATES).format(h=h, name=f"shard-{n}.h5"))
        data = ("\n".join(lines) + "\n").encode()
        for kind, h in note_slots.get(n, []):
            record(kind, path, data, h)
        yield path, data
        man.files += 1
        man.notes += 1
    for path, data in leak_forms(random.Random(spec.seed + 1), spec.forms, man):
        yield path, data
        man.files += 1


# --------------------------------------------------------------------------- leak forms

# (form, family): each form is one way a PIN, a PIN hash or a key ends up in a file.
FORMS = (
    ("yaml-nested-hash", "nested keys"),
    ("yaml-nested-pin", "nested keys"),
    ("json-nested-hash", "nested keys"),
    ("toml-nested-hash", "nested keys"),
    ("notebook-env-magic", "notebooks"),
    ("notebook-environ", "notebooks"),
    ("notebook-pin-hash", "notebooks"),
    ("shell-pin-flag", "command lines"),
    ("makefile-pin-flag", "command lines"),
    ("ci-pin-flag", "command lines"),
    ("openssh-private-key", "private keys"),
    ("pem-private-key", "private keys"),
    ("pkcs8-private-key", "private keys"),
)


def _pin(rng: random.Random) -> str:
    return f"{rng.randrange(10000):04d}"


def _salted(rng: random.Random) -> str:
    """A salted PIN hash as a team might store it: not the SHA-256 of a bare PIN."""
    return sha256_hex(f"{rng.getrandbits(64):x}:{_pin(rng)}")


def _notebook(cells: list[dict[str, object]]) -> bytes:
    """As Jupyter writes it (nbformat: sorted keys, one-space indent)."""
    nb = {
        "cells": cells,
        "metadata": {"kernelspec": {"display_name": "Python 3", "name": "python3"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    return (json.dumps(nb, sort_keys=True, indent=1, ensure_ascii=False) + "\n").encode()


def _code_cell(n: int, source: list[str], outputs: list[dict[str, object]]) -> dict[str, object]:
    return {
        "cell_type": "code",
        "execution_count": n,
        "id": f"cell-{n}",
        "metadata": {},
        "outputs": outputs,
        "source": source,
    }


def _ordinary_cells(rng: random.Random) -> list[dict[str, object]]:
    png = base64.b64encode(rng.randbytes(300)).decode()
    return [
        _code_cell(1, ["import os\n", "import pandas as pd\n", "pin = getpass.getpass()"], []),
        _code_cell(
            2,
            ["df = pd.read_csv('runs.csv')\n", "df.describe()"],
            [
                {
                    "data": {"text/plain": [f"{rng.randrange(1000, 9999)} rows x 13 columns"]},
                    "execution_count": 2,
                    "metadata": {},
                    "output_type": "execute_result",
                }
            ],
        ),
        _code_cell(
            3,
            ["plt.plot(df.seg_total)"],
            [{"data": {"image/png": png}, "metadata": {}, "output_type": "display_data"}],
        ),
    ]


def _private_key(rng: random.Random, kind: str) -> bytes:
    """A deterministic key (from the generator's random numbers) in one of three encodings."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519

    if kind == "openssh-private-key":
        ed = ed25519.Ed25519PrivateKey.from_private_bytes(rng.randbytes(32))
        return ed.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.OpenSSH,
            serialization.NoEncryption(),
        )
    key = ec.derive_private_key(rng.getrandbits(250) + 1, ec.SECP256R1())
    fmt = (
        serialization.PrivateFormat.TraditionalOpenSSL
        if kind == "pem-private-key"
        else serialization.PrivateFormat.PKCS8
    )
    return key.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption())


def leak_form(rng: random.Random, form: str, i: int) -> tuple[str, bytes, bytes]:
    """(path, content, the token whose line a finding must name) for one planted leak."""
    pin, salted = _pin(rng), _salted(rng)
    if form == "yaml-nested-hash":
        data = f"service:\n  name: trainer-{i}\n  pin:\n    algorithm: sha256\n    hash: {salted}\n"
        return f"configs/service-{i:03d}.yaml", data.encode(), salted.encode()
    if form == "yaml-nested-pin":
        data = f"operator:\n  name: ops-{i}\n  pin:\n    value: {pin}\n  shell: /bin/bash\n"
        return f"configs/operator-{i:03d}.yaml", data.encode(), f"value: {pin}".encode()
    if form == "json-nested-hash":
        doc = {"name": f"svc-{i}", "pin": {"salt": f"{rng.getrandbits(64):x}", "hash": salted}}
        return f"configs/auth-{i:03d}.json", json.dumps(doc, indent=2).encode(), salted.encode()
    if form == "toml-nested-hash":
        # (Line by line: the scan reads a string's escapes as line breaks, and this
        # generator's own file must stay clean.)
        lines = ["[tool.trainer]", f'name = "t{i}"', "", "[pin]", "rounds = 3"]
        lines.append(f'hash = "{salted}"')
        data = "\n".join(lines) + "\n"
        return f"configs/settings-{i:03d}.toml", data.encode(), salted.encode()
    if form.startswith("notebook-"):
        # The generator writes these leaks on purpose: the pragma keeps its own lines clean.
        line = {
            "notebook-env-magic": f"%env EXPFLOW_PIN={pin}\n",  # expflow: allow-pin-hash
            "notebook-environ": f'os.environ["EXPFLOW_PIN"] = "{pin}"\n',  # expflow: allow-pin-hash
            "notebook-pin-hash": f'pin_hash = "{salted}"\n',  # expflow: allow-pin-hash
        }[form]
        cells = _ordinary_cells(rng)
        cells.insert(1, _code_cell(9, ["# rerun without the prompt\n", line, "train()"], []))
        token = json.dumps(line)[1:-1].encode()
        return f"notebooks/{form}-{i:03d}.ipynb", _notebook(cells), token
    if form == "shell-pin-flag":
        data = f"#!/bin/sh\nset -eu\nexpflow-git rm exp-{i:04d} --pin {pin}\ngit push\n"
        return f"scripts/cleanup-{i:03d}.sh", data.encode(), f"--pin {pin}".encode()
    if form == "makefile-pin-flag":
        data = f".PHONY: clean\nclean:\n\texpflow-git cancel exp-{i:04d} --pin={pin}\n"
        return f"make/{i:03d}/Makefile", data.encode(), f"--pin={pin}".encode()
    if form == "ci-pin-flag":
        data = (
            "jobs:\n  cleanup:\n    runs-on: ubuntu-latest\n    steps:\n"
            f"      - run: expflow-git rm exp-{i:04d} --pin '{pin}'\n"
        )
        return f"ci/cleanup-{i:03d}.yml", data.encode(), f"--pin '{pin}'".encode()
    key = _private_key(rng, form)
    return f"keys/{form}-{i:03d}", key, b"-----BEGIN"


def ordinary_file(rng: random.Random, i: int) -> tuple[str, bytes]:
    """A file of one of the same kinds that holds no secret (but looks close to one)."""
    kind = i % 7
    sha = f"{rng.getrandbits(256):064x}"
    if kind == 0:
        data = (
            f"dataloader:\n  batch_size: 32\n  num_workers: 8\n  pin_memory: true\n"
            f"pin:\n  enabled: true\n  length: 4\n  retries: 3\n  timeout: 3600\n"
            f"checksum: {sha}\n"
        )
        return f"configs/train-{i:03d}.yaml", data.encode()
    if kind == 1:
        doc = {
            "pin_memory": True,
            "git_sha": f"{rng.getrandbits(160):040x}",
            "port": 8080,
            "pin": {"length": 4, "required": True},
        }
        return f"configs/run-{i:03d}.json", json.dumps(doc, indent=2).encode()
    if kind == 2:
        data = "[tool.trainer]\nworkers = 8\n\n[pin]\nlength = 4\nprompt = true\n"
        return f"configs/defaults-{i:03d}.toml", data.encode()
    if kind == 3:
        return f"notebooks/analysis-{i:03d}.ipynb", _notebook(_ordinary_cells(rng))
    if kind == 4:
        data = (
            '#!/bin/sh\nset -eu\nexpflow-git rm "$1" --pin "$EXPFLOW_PIN"\n'
            f"python train.py --pin-memory --seed {rng.randrange(10000)}\necho 1234 > count\n"
        )
        return f"scripts/run-{i:03d}.sh", data.encode()
    if kind == 5:
        data = ".PHONY: clean\nclean:\n\texpflow-git cancel $(EXP) --pin=$(PIN)\n"
        return f"make/{i:03d}-ok/Makefile", data.encode()
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    pub = ed25519.Ed25519PrivateKey.from_private_bytes(rng.randbytes(32)).public_key()
    pem = pub.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    ssh = pub.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    data = (
        "# Signing keys\n\nA private key file starts with `-----BEGIN OPENSSH PRIVATE KEY-----`;"
        " never commit it. The public half:\n\n"
        f"    {ssh.decode()} ci@example\n\n```\n{pem}```\n"
    )
    return f"docs/keys-{i:03d}.md", data.encode()


def leak_forms(rng: random.Random, per_form: int, man: Manifest) -> Iterator[tuple[str, bytes]]:
    """`per_form` files of each of FORMS, then as many ordinary files as all of them."""
    n = 0
    for form, family in FORMS:
        for _ in range(per_form):
            path, data, token = leak_form(rng, form, n)
            man.forms.append(
                {"path": path, "line": line_of(data, token), "form": form, "family": family}
            )
            yield path, data
            n += 1
    for i in range(n):
        path, data = ordinary_file(rng, i)
        man.ordinary.append(path)
        yield path, data


def write_plain(dest: Path, spec: Spec) -> Manifest:
    man = Manifest(spec)
    made: set[Path] = set()
    for path, data in generate(spec, man):
        target = dest / path
        if target.parent not in made:
            target.parent.mkdir(parents=True, exist_ok=True)
            made.add(target.parent)
        target.write_bytes(data)
    return man


def fast_import(
    dest: Path, documents: Iterable[tuple[str, bytes]], message: str, when: str
) -> None:
    """`git init` in the folder `dest` and one commit of `documents` (path, bytes) on
    `main` by `git fast-import`: the blobs first (streamed straight into its pack), then
    one commit naming them by mark, with a fixed identity and date `when` (same input,
    same commit id). Not packed further: the caller repacks as it wants."""
    git_in(dest, "init", "-q", "-b", "main")
    git_in(dest, "config", "user.name", "bench")
    git_in(dest, "config", "user.email", "bench@example.invalid")
    git_in(dest, "config", "commit.gpgsign", "false")
    proc = subprocess.Popen(
        ["git", "-C", str(dest), "fast-import", "--quiet", "--done"],
        stdin=subprocess.PIPE,
    )
    assert proc.stdin is not None
    out = proc.stdin
    paths: list[str] = []
    for mark, (path, data) in enumerate(documents, 1):
        out.write(b"blob\nmark :%d\ndata %d\n" % (mark, len(data)))
        out.write(data)
        out.write(b"\n")
        paths.append(path)
    msg = message.encode()
    out.write(b"commit refs/heads/main\n")
    out.write(f"author bench <bench@example.invalid> {when}\n".encode())
    out.write(f"committer bench <bench@example.invalid> {when}\n".encode())
    out.write(b"data %d\n%s" % (len(msg), msg))
    for mark, path in enumerate(paths, 1):
        out.write(b"M 100644 :%d %s\n" % (mark, path.encode()))
    out.write(b"\ndone\n")
    out.close()
    if proc.wait() != 0:
        raise SystemExit("git fast-import failed")


def write_git(dest: Path, spec: Spec, *, checkout: bool) -> Manifest:
    dest.mkdir(parents=True, exist_ok=True)
    man = Manifest(spec)
    message = f"Synthetic experiments: {spec.runs} runs over {spec.studies} studies\n"
    fast_import(dest, generate(spec, man), message, f"{1_796_000_000 + spec.seed % 86400} +0000")
    git_in(dest, "repack", "-adq")
    git_in(dest, "gc", "-q")
    if checkout:
        git_in(dest, "reset", "-q", "--hard", "main")
    return man


def git_in(dest: Path, *args: str) -> None:
    """Run git in the repository at `dest`; fail the build if it fails."""
    subprocess.run(["git", "-C", str(dest), *args], check=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dest", type=Path)
    ap.add_argument("--runs", type=int, required=True, help="runs (a record + a result each)")
    ap.add_argument("--studies", type=int, default=10)
    ap.add_argument("--invalid", type=int, default=0, help="invalid documents")
    ap.add_argument("--planted-pins", type=int, default=0, help="planted PIN SHA-256 hashes")
    ap.add_argument("--decoys", type=int, help="random SHA-256 decoys (default 10 x planted)")
    ap.add_argument(
        "--forms", type=int, default=0, help="files per leak form (and as many ordinary ones)"
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--plain", action="store_true", help="a plain directory, no git")
    ap.add_argument("--no-checkout", action="store_true", help="git: leave the work tree empty")
    ap.add_argument("--force", action="store_true", help="replace DEST if it exists")
    args = ap.parse_args(argv)
    if args.runs < 1 or args.studies < 1 or min(args.invalid, args.planted_pins, args.forms) < 0:
        ap.error("--runs and --studies must be positive; counts non-negative")
    spec = Spec(
        runs=args.runs,
        studies=args.studies,
        invalid=args.invalid,
        planted=args.planted_pins,
        decoys=10 * args.planted_pins if args.decoys is None else args.decoys,
        seed=args.seed,
        forms=args.forms,
    )
    manifest = manifest_path(args.dest)
    if args.dest.exists():
        if not args.force:
            ap.error(f"{args.dest} exists (use --force to replace it)")
        shutil.rmtree(args.dest)
    manifest.unlink(missing_ok=True)
    if args.plain:
        man = write_plain(args.dest, spec)
    else:
        man = write_git(args.dest, spec, checkout=not args.no_checkout)
    # Written last: its presence means the data set is complete.
    manifest.write_text(json.dumps(man.as_json(), indent=1) + "\n")
    print(
        f"{args.dest}: {man.files} files ({man.documents} documents, {man.notes} notes), "
        f"{len(man.invalid)} invalid, {len(man.planted)} planted PIN hashes, "
        f"{len(man.decoys)} decoys, {len(man.forms)} other leaks, "
        f"{len(man.ordinary)} ordinary files",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
