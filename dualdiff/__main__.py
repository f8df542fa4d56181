"""``python -m dualdiff``: the demo; ``python -m dualdiff bench``: the benchmark."""

from __future__ import annotations

import sys

from .bench import main as bench_main
from .demo import main as demo_main


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "bench":
        return bench_main(argv[1:])
    return demo_main(argv)


if __name__ == "__main__":
    sys.exit(main())
