from __future__ import annotations

from expflow_git.cli import main

raise SystemExit(main())
