"""Looking at runs: every record and result of the work tree or a commit as typed rows
(`runs.py`), the MLflow-like filter grammar (`where.py`) and its value comparisons
(`values.py`), and a run's history (`history.py`). `list`, `show`, `compare` and
`rank --where` are built on these (docs/spec.md §4)."""
