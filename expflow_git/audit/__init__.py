"""The audit of a commit: read the tree, check each document (cached per blob, in parallel),
rank, examine history (pipeline.py); compare two commits (diff.py)."""
