"""Writing records: `init` (scaffold.py), `new`, `result`, `rm`, `cancel` (writer.py)."""
