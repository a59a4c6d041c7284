"""The policy: `expflow.yaml` → a `Policy` value (load.py), and what a proposed policy
would change (diff.py)."""
