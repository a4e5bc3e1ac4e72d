"""``python -m seqcore.cli``: the same as the ``seqcore`` command."""

from __future__ import annotations

from .main import main

if __name__ == "__main__":
    raise SystemExit(main())
