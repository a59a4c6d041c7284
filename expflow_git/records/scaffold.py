"""`init`: scaffold a repository for expflow-git (policy, folders, hooks, workflow)."""

from __future__ import annotations

import enum
import json
import os
import posixpath
import stat
import unicodedata
from pathlib import Path
from typing import TYPE_CHECKING

from expflow_git.atomicfile import confined, folder_in_the_way, not_a_folder, write_atomic
from expflow_git.errors import ExpflowError, printable

if TYPE_CHECKING:
    from expflow_git.gitstore import Git


class Template(str, enum.Enum):
    MINIMAL = "minimal"
    COMPETITION = "competition"


MINIMAL_POLICY = """\
# expflow-git policy: see the README for every key.
version: 1
paths:
  experiments: ["experiments/**/*.json"]
  results: ["results/**/*.json"]
metrics:
  accuracy: {group: Score, higher_is_better: true, min: 0, max: 1, description: Held-out accuracy}
  loss: {group: Loss, higher_is_better: false, min: 0}
required_metrics: [accuracy]
ranking:
  sort_by: accuracy
  tie_break: [loss]
gates: []
rules: []
protect: {results_immutable: true}
"""

# docs/spec.md §3.1: the standard 13-metric competition registry.
COMPETITION_POLICY = """\
# expflow-git policy: the standard competition registry (expflow-git's docs/spec.md §3.1).
version: 1
paths:
  experiments: ["experiments/**/*.json"]
  results: ["results/**/*.json"]
metrics:
  seg_total: {group: Score, higher_is_better: true, type: scalar, description: Total segment score (primary)}
  seg1: {group: Score, higher_is_better: true, type: scalar}
  seg2: {group: Score, higher_is_better: true, type: scalar}
  seg3: {group: Score, higher_is_better: true, type: scalar}
  val_mse: {group: Loss, higher_is_better: false, type: scalar}
  val_relmse: {group: Loss, higher_is_better: false, type: scalar}
  pde_mean: {group: PDE, higher_is_better: false, type: scalar, threshold: 18.09}
  pde_seg1: {group: PDE, higher_is_better: false, type: scalar}
  pde_seg2: {group: PDE, higher_is_better: false, type: scalar}
  pde_seg3: {group: PDE, higher_is_better: false, type: scalar}
  train_time_min: {group: Time, higher_is_better: false, type: scalar, threshold: 60, min: 0, unit: min}
  arch_params: {group: Model, higher_is_better: false, type: scalar, min: 0}
  epochs: {group: Training, higher_is_better: false, type: scalar, min: 0}
required_metrics: [seg_total, pde_mean, train_time_min]
ranking:
  sort_by: seg_total
  tie_break: [pde_mean]
gates: []
rules:
  - {param: sub_step, op: gt, value: 0, required: true}
protect: {results_immutable: true}
"""

PRE_COMMIT_CONFIG = """\
# expflow-git hooks. These use the installed `expflow-git`; to pin a version
# instead, point `repo:` at the expflow-git repository (see its README).
# Each entry ends with `--` so that file names are never read as options
# (a staged file named `--help`); give options through the environment
# (EXPFLOW_POLICY), not `args:`, which come after the `--`. `--staged`: the
# content git commits, whatever .gitattributes makes of the files on disk.
# `pre-commit install` installs both hook types: git runs pre-merge-commit, not
# pre-commit, for a merge without conflicts. The hooks judge the index, so they
# never run at pre-push (the action audits what is pushed).
minimum_pre_commit_version: "3.2.0"  # the stage names below
default_install_hook_types: [pre-commit, pre-merge-commit]
default_stages: [pre-commit, pre-merge-commit, manual]
repos:
  - repo: local
    hooks:
      - id: expflow-validate
        name: expflow-git validate
        entry: expflow-git validate --staged --
        language: system
        types: []  # not the default [file]: a symlinked document is refused, not skipped
        types_or: [file, symlink]
      - id: expflow-no-pin-hash
        name: expflow-git no PIN hash
        entry: expflow-git scan --staged --
        language: system
        types: []  # every file (one control byte makes a file "binary" to pre-commit)
        types_or: [file, symlink]
      - id: expflow-protect-results
        name: expflow-git protect results
        entry: expflow-git protect --
        language: system
        pass_filenames: false
        always_run: true
"""

# The workflow README.md shows, byte for byte (a test compares them). Its defaults are
# what docs/threat-model.md asks of CI: the action audits the PR's head, the history
# since the PR left its base (hooks can be skipped), under the base's policy, and shows
# only a report this run wrote; the artifact lets anyone `verify` it.
WORKFLOW = """\
# .github/workflows/expflow.yml
name: expflow-git
on:
  pull_request:
    # and `edited`: a pull request moved onto another base branch is checked again
    # (GitHub's default three types leave its check against the old base standing)
    types: [opened, synchronize, reopened, edited]
  push:
  # a merge queue's check (of the merged commit), where the repository requires one
  merge_group:
permissions:
  contents: read
jobs:
  audit:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
        with:
          fetch-depth: 0            # the history since the base, and the PR's head commit
      - uses: actions/setup-python@v5
        with:
          python-version: "3.11"
      - id: audit
        # wherever you host expflow-git, at a full commit SHA (or a tag you created)
        uses: expflow/expflow-git@0123456789abcdef0123456789abcdef01234567
        with:
          policy: expflow.yaml
          signing-key: ${{ secrets.EXPFLOW_SIGNING_KEY }}   # none on forks: unsigned
          report-path: expflow-report.json
          html-path: expflow-scorecard.html
      # Only a report this run wrote: never what a pull request put at that path.
      - if: always() && steps.audit.outputs.report-path != ''
        uses: actions/upload-artifact@v4
        with:
          name: expflow-report
          path: |
            expflow-report.json
            expflow-scorecard.html
"""


# Written only where no .gitignore exists: an existing one is the project's own, and a
# pattern added to it could stop files the project tracks from being added.
GITIGNORE = """\
# expflow-git: private signing keys never belong in the repository.
# `expflow-git keygen --out PATH` writes PATH (private) and PATH.pub (public):
# commit only the .pub file (e.g. to .expflow/keys/). The scan refuses private keys too.
*.key
*.pem
*-key
*_key
id_rsa
id_ecdsa
id_ed25519
# (a study's folder may be named so, `lookup-key`, and a run's folder of corrections:
# the folders of records, results and corrections are given back, a key file in them
# still kept out by its own name)
!/experiments/**/
!/results/**/
!/corrections/**/
.expflow/keys/*
!.expflow/keys/*.pub
# A write cut short (the process killed) can leave its temporary file beside the
# document: `.<name>.<random>.tmp`.
.*.tmp
"""


def from_root(folder: Path, top: Path) -> str:
    """`folder`'s path from the work tree's root `top`, as git names paths (`ml`)."""
    return os.path.relpath(os.path.realpath(folder), os.path.realpath(top)).replace(os.sep, "/")


def nested_prefix(folder: Path, top: Path) -> str:
    """`folder`'s path from the work tree's root `top` (`ml/`), as a nested project's
    policy globs start; "" where globs cannot spell it literally (a `*`, `?`, `[`, `]`,
    backslash or control character in it, or a path too long for a glob)."""
    rel = from_root(folder, top)
    if rel in (".", "..") or rel.startswith("../"):
        return ""
    if any(c in "*?[]\\" or _unspellable(c) for c in rel) or len(rel) > 900:
        return ""
    return rel + "/"


def _unspellable(char: str) -> bool:
    """Whether a YAML string cannot hold `char` as itself: a control character, a line or
    paragraph separator (YAML folds one), a surrogate (a name's byte that is not UTF-8),
    a byte order mark or a noncharacter YAML refuses. Not `isprintable()`: it refused every
    space but ` ` and every format character, so a folder with a no-break space or an
    ideographic one (`実験　ml`) kept the root's globs, and its records went to the root's
    experiments/ (issue 18, forty-second pass review)."""
    return unicodedata.category(char) in ("Cc", "Cs", "Zl", "Zp") or char in "\ufeff\ufffe\uffff"


_KINDS = ("experiments", "results", "corrections")


def _policy_below(policy: str, prefix: str) -> str:
    """The scaffold's policy for a project in folder `prefix` of a work tree: its globs
    (which are read from the work tree's root) start there, corrections' too."""
    if not prefix:
        return policy
    glob = {kind: json.dumps(f"{prefix}{kind}/**/*.json", ensure_ascii=False) for kind in _KINDS}
    policy = policy.replace(
        '  experiments: ["experiments/**/*.json"]\n', f"  experiments: [{glob['experiments']}]\n"
    )
    return policy.replace(
        '  results: ["results/**/*.json"]\n',
        f"  results: [{glob['results']}]\n  corrections: [{glob['corrections']}]\n",
    )


def scaffold(root: Path, template: Template, prefix: str = "") -> list[tuple[str, bool]]:
    """Create what is missing; never overwrite. Returns (path, created) pairs. With
    `prefix` (`nested_prefix`), `root` is a nested project's folder of a work tree."""
    policy = COMPETITION_POLICY if template is Template.COMPETITION else MINIMAL_POLICY
    policy = _policy_below(policy, prefix)
    files = {
        "expflow.yaml": policy,
        "experiments/.gitkeep": "",
        "results/.gitkeep": "",
        ".pre-commit-config.yaml": PRE_COMMIT_CONFIG,
        ".github/workflows/expflow.yml": WORKFLOW,
        ".gitignore": GITIGNORE,
    }
    _not_in_a_git_directory(root)
    # Every folder is checked before the first write: a cloned repository may hold a
    # symlinked `.github` or `results` that would take a write outside the work tree.
    # A file that exists (a symlinked expflow.yaml too) is kept, so never written through.
    for folder in sorted({posixpath.dirname(rel) for rel in files} - {""}):
        confined(root, folder)
        _a_folder(root, folder)
    for rel in files:
        _no_other_kind(root, rel)
    report = []
    for rel, text in files.items():
        target = root / rel
        if target.exists() or target.is_symlink():
            report.append((rel, False))
            continue
        try:
            write_atomic(target, text.encode(), overwrite=False)
        except FileExistsError:
            from expflow_git.atomicfile import kind_of

            # Made meanwhile (another `init` of the same folder: three of four concurrent
            # ones said `experiments/.gitkeep: File exists`, exit 2, of a complete result;
            # a hunter's find, issue 18 thirty-second pass): kept, as a file there before
            # is. Anything else is named as the write's error names it (a folder: "is a
            # folder, not a file").
            if kind_of(target) not in ("a file", "a broken symbolic link"):
                raise
            report.append((rel, False))
            continue
        report.append((rel, True))
    return report


def _repository_of(folder: Path) -> tuple[Git, Path] | None:
    """The repository holding `folder`, and the folder it was asked from (resolved): a
    folder that does not exist yet is judged by the nearest one that does (where it
    would be made). None in no repository (or one git refuses to read)."""
    from expflow_git.gitstore import Git

    existing = Path(os.path.abspath(folder))
    while not existing.is_dir() and existing != existing.parent:
        existing = existing.parent
    try:
        return Git.discover(existing), existing.resolve()
    except ExpflowError:
        return None


def _in_git_directory(git: Git, where: Path) -> bool:
    git_dir = git.git_dir.resolve()
    return where == git_dir or git_dir in where.parents


def work_tree_root(folder: Path) -> Path | None:
    """The root of the work tree `folder` is in (or would be made in), as git names it;
    None outside any work tree: in no repository, a bare one, or a git directory."""
    found = _repository_of(folder)
    if found is None:
        return None
    git, where = found
    if git.root.resolve() == git.git_dir.resolve() or _in_git_directory(git, where):
        return None
    return git.root


def init_folder(given: Path | None) -> tuple[Path, Path | None]:
    """The folder `init` scaffolds, and the root of the work tree that folder is below
    but not at (None when it is that root, or in no work tree), to warn of. With no
    folder given, the current folder, refused (exit 2, nothing written) below a work
    tree's root, as `dvc init` refuses: `init` in `src/deep` scaffolded src/deep, whose
    hooks config and workflow pre-commit and GitHub never read, and `new` there found
    no policy (a user's hunt, issue 18 thirty-second pass); scaffolding the root instead
    wrote into whatever repository held the folder, a dotfiles one in $HOME say (a
    review). A folder given is scaffolded wherever it is (a nested project may be meant)."""
    folder = Path(".") if given is None else given
    if (found := folder_in_the_way(folder)) is not None:
        # mkdir's own words named no file in the way: `init FIFO` said `FIFO: File exists`,
        # `init FILE/sub` `FILE/sub: Not a directory` (a hunter's find, issue 18
        # thirty-seventh pass), as `pin init` and `install-hooks` said before theirs.
        part, kind = found
        where = "" if part == Path(os.path.abspath(folder)) else f"{printable(str(part))} "
        raise ExpflowError(
            f"{printable(str(folder))}: {where}is {kind}, not a folder (nothing written)"
        )
    root = work_tree_root(folder)
    if root is None or root.resolve() == Path(os.path.abspath(folder)).resolve():
        return folder, None
    if given is None:
        raise ExpflowError(
            f"{printable(os.getcwd())}: not the root of the git work tree "
            f"{printable(str(root))}, where pre-commit and GitHub read hooks and workflows: "
            "run `expflow-git init` there, or `expflow-git init .` to scaffold this folder "
            "(nothing written)"
        )
    return given, root


def _not_in_a_git_directory(root: Path) -> None:
    """Refuse (exit 2, before anything is written) a folder of a repository that is no
    work tree: a bare repository, or a git directory (`.git`) or a folder in it. `init`
    in `bare.git` wrote expflow.yaml, experiments/, .github/, … beside HEAD and objects/,
    exit 0 (a user's hunt, issue 18 twenty-ninth pass). A folder that does not exist yet
    is judged by the nearest one that does (where it would be made); one in no
    repository is scaffolded as before."""
    found = _repository_of(root)
    if found is None:
        return  # no repository (or one git refuses to read): a plain folder
    git, where = found
    if not _in_git_directory(git, where):
        return
    shown = printable(str(git.git_dir))
    if git.root.resolve() == git.git_dir.resolve():
        raise ExpflowError(
            f"{shown}: bare repository: no work tree; run init in a clone (nothing written)"
        )
    raise ExpflowError(
        f"{shown}: inside the git directory, not the work tree {printable(str(git.root))} "
        "(nothing written)"
    )


def _a_folder(root: Path, folder: str) -> None:
    """Refuse (exit 2, before anything is written) a file where `init` makes a folder:
    `results` a file failed with "File exists" after expflow.yaml and experiments/ were
    written (a review, issue 18 twenty-third pass)."""
    shown = not_a_folder(root, folder)
    if shown is not None:
        raise ExpflowError(
            f"{printable(shown)}: not a folder, where init makes one (nothing written)"
        )


def _no_other_kind(root: Path, rel: str) -> None:
    """Refuse (exit 2, before anything is written) a folder, a pipe or a device where
    `init` would write a file: `expflow.yaml` a folder or a FIFO was "kept", exit 0, and
    every later command failed on it (a user's hunt, issue 18 twenty-third pass). A file
    (or a link to one, or a dangling link) is kept, as before."""
    try:
        mode = os.stat(root / rel).st_mode
    except OSError:
        return  # missing (or a dangling link): created, or kept as before
    if not stat.S_ISREG(mode):
        raise ExpflowError(
            f"{printable(rel)}: there is something other than a file in its place (a folder, "
            "a pipe or a device); init keeps a file, nothing else (nothing written)"
        )


def ignored_documents(root: Path, prefix: str = "") -> list[str]:
    """Where a record and a result of a run would go under `root`'s policy, those git's
    ignore rules keep out (nothing outside git, or where the policy does not load), from
    `root`; a nested project's (`prefix`) globs are read from the work tree's root."""
    from expflow_git.policy.load import MAX_POLICY_BYTES, load_policy_bytes
    from expflow_git.records.writer import Layout
    from expflow_git.workspace import NotRegular, TooLarge, read_regular

    try:
        # (bounded, no link followed: a policy kept as a link to /dev/zero was read whole)
        data = read_regular(root / "expflow.yaml", MAX_POLICY_BYTES, follow_links=False)
        policy = load_policy_bytes(data)
    except (OSError, NotRegular, TooLarge, ExpflowError):
        return []
    layout = Layout(root.resolve(), policy)
    samples = [layout.experiment_rel("study", "exp-001"), layout.result_rel("study", "exp-001")]
    samples = [rel.removeprefix(prefix) if prefix else rel for rel in samples]
    try:
        hidden = layout.ignored(samples)
    except ExpflowError:  # (git refuses to ask: a folder linked, a submodule: no answer)
        return []
    return [rel for rel in samples if rel in hidden]
