"""The pre-commit hooks on the index or the work tree: validate, scan, protect; install.py and
scripts/ are the plain git hooks for repositories without pre-commit."""
