"""The local PIN: its stored hash (store.py) and the one guard every destructive
command asks (guard.py)."""
