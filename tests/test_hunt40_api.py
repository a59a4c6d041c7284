"""An attacker's hunt for gaps between the Python API and the CLI (issue 18, fortieth
pass): each input the CLI takes or refuses, given to the API function that writes or
reads the same thing."""

from __future__ import annotations

import enum
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import ExpRepo
from support import run_cli, ssh_keygen_key

import expflow_git

pytestmark = pytest.mark.usefixtures("isolated_env")

STUDY = "pdebench-task1"
SEED = {"seg_total": 57.09, "pde_mean": 15.0, "train_time_min": 45.5}


# ------------------------------------------------------------------ audit(sign_key=agent:…)
def _fingerprint(pub: Path) -> str:
    """`ssh-keygen -lf`'s SHA256 fingerprint."""
    keygen = shutil.which("ssh-keygen")
    assert keygen is not None
    out = subprocess.run([keygen, "-lf", str(pub)], check=True, capture_output=True, text=True)
    return out.stdout.split()[1]


@pytest.mark.ssh_agent
def test_audit_signs_with_a_key_held_by_ssh_agent_as_the_cli_does(
    committed_repo: ExpRepo, agent: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`Repository.audit(sign_key="agent:SHA256:…")` (its docstring: "signed with the key
    at `sign_key` (a path or `agent:SHA256:…`)", as `audit --sign-key agent:…`, README)
    always failed "SSH_AUTH_SOCK is not set (is ssh-agent running?)" with the agent
    running and SSH_AUTH_SOCK set: the API looked the agent up in an empty environment
    (kept empty so that $EXPFLOW_SIGNING_KEY never signs what the caller did not ask
    for). The report is now the one the key file gives, byte for byte, as the CLI's is;
    $EXPFLOW_SIGNING_KEY still signs nothing the caller did not name."""
    repo = expflow_git.Repository(committed_repo.path)
    repo.new("exp-001", study=STUDY, params={"sub_step": 5})
    repo.log_result("exp-001", SEED)
    committed_repo.commit("a run")
    key = ssh_keygen_key(tmp_path / "agent_key")
    by_file = repo.audit(report=True, sign_key=key).report
    subprocess.run(
        ["ssh-add", "-q", str(key)],
        env={**os.environ, "SSH_AUTH_SOCK": agent},
        check=True,
        capture_output=True,
    )
    fp = _fingerprint(Path(f"{key}.pub"))
    monkeypatch.setenv("SSH_AUTH_SOCK", agent)
    # The CLI signs with it (the same bytes as with the key file).
    out = tmp_path / "by_cli.json"
    res = run_cli(["audit", "--out", str(out), "--sign-key", f"agent:{fp}"], committed_repo.path)
    assert res.code == 0, res
    assert out.read_bytes() == by_file
    # The API too.
    audit = repo.audit(report=True, sign_key=f"agent:{fp}")
    assert audit.report == by_file
    assert audit.signed_by == (fp,)
    # A key in $EXPFLOW_SIGNING_KEY is still never used unasked.
    monkeypatch.setenv("EXPFLOW_SIGNING_KEY", f"agent:{fp}")
    assert repo.audit(report=True).signed_by == ()


# ------------------------------------------------------------------ text of a str Enum
class Study(str, enum.Enum):
    """A study or id kept as a `str` Enum, as training scripts name their choices."""

    TASK = STUDY
    RUN = "exp-007"


def test_a_str_enum_is_written_as_its_text_where_the_cli_writes_it(
    committed_repo: ExpRepo, tmp_path: Path
) -> None:
    """A study or an id given as a member of a `str` Enum (`class Study(str, Enum)`) is
    text (`isinstance(x, str)`), and the documents held its value, but the paths were
    made from its `str()`, `Study.TASK`: `new`, `run()` and `import_csv` wrote the
    record at `experiments/Study.TASK/exp-001.json` (spec §2: `experiments/<study>/`),
    `run()` the result at `results/pdebench-task1/` apart from it, and an id so given was
    refused "id 'exp-007' differs from the file name 'Study.RUN'" (`get` a KeyError: the
    member hashes as its name). The API now takes such text as the plain string it
    holds, and writes what `expflow-git new --study pdebench-task1` writes."""
    from expflow_git.importers import import_csv

    repo = expflow_git.Repository(committed_repo.path)
    repo.new("exp-001", study=Study.TASK, params={"sub_step": 5})
    repo.new(Study.RUN, study=STUDY, params={"sub_step": 5})
    with repo.run("exp-002", study=Study.TASK, params={"sub_step": 5}) as run:
        run.log(**SEED)
    repo.log_result(Study.RUN, SEED)
    assert repo.get(Study.RUN).result_path == f"results/{STUDY}/exp-007.json"
    rows = tmp_path / "runs.csv"
    rows.write_text("run,sub_step,seg_total,pde_mean,train_time_min\nr1,1,50,15,40\n")
    import_csv(rows, id_column="run", study=Study.TASK, root=committed_repo.path)
    written = sorted(
        p.relative_to(committed_repo.path).as_posix()
        for top in ("experiments", "results")
        for p in (committed_repo.path / top).glob("*/*.json")
    )
    assert written == [
        f"experiments/{STUDY}/exp-001.json",
        f"experiments/{STUDY}/exp-002.json",
        f"experiments/{STUDY}/exp-007.json",
        f"experiments/{STUDY}/r1.json",
        f"results/{STUDY}/exp-002.json",
        f"results/{STUDY}/exp-007.json",
        f"results/{STUDY}/r1.json",
    ]
