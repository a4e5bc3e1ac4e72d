"""``python -m seqcore``: the same as the ``seqcore`` command."""

from __future__ import annotations

from .cli.main import main

if __name__ == "__main__":
    raise SystemExit(main())
