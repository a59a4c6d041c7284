"""The local PIN: validation, salted slow hashing, storage (SPEC §5)."""
from __future__ import annotations

import re

# The tool's own PIN-hash format: parameters live inside the string so they can change.
#   expflow$scrypt$n=16384,r=8,p=1$<salt, urlsafe b64, no padding>$<hash, urlsafe b64, no padding>
PIN_HASH_PREFIX = "expflow$scrypt$"
PIN_HASH_RE = re.compile(r"expflow\$scrypt\$[a-z0-9=,]+\$[A-Za-z0-9_-]{16,}\$[A-Za-z0-9_-]{16,}")
