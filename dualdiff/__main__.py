"""``python -m dualdiff [demo | bench [options]]``: the demo (the default) or the benchmark."""

from __future__ import annotations

import importlib.util
import sys

from .demo import main as demo_main

USAGE = """usage: python -m dualdiff [demo | bench [--quick] [--peers] [--section NAME] [--out DIR]]

  demo    (the default) the Jacobian of Broyden's tridiagonal function, exact vs
          hand-derived vs finite differences
  bench   the benchmark; `python -m dualdiff bench --help` lists its options

The benchmark ships with the source checkout, not in built wheels: install with
  pip install -e ".[bench]"
"""


def main(argv: list[str] | None = None) -> int:
    """Run the demo or the benchmark; print usage for -h / --help or an unknown command.

    >>> import contextlib, io
    >>> with contextlib.redirect_stdout(io.StringIO()) as out:
    ...     code = main(["--help"])
    >>> code, out.getvalue().startswith("usage: python -m dualdiff")
    (0, True)
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    command = argv[0] if argv else "demo"
    if command in ("-h", "--help", "help"):
        print(USAGE, end="")
        return 0
    if command == "demo":
        return demo_main(argv[1:])
    if command == "bench":
        if importlib.util.find_spec("dualdiff.bench") is None:
            print("the benchmark is not installed (it is not part of built wheels); from a "
                  "checkout of dualdiff run\n  pip install -e \".[bench]\" && "
                  "python -m dualdiff bench", file=sys.stderr)
            return 2
        from .bench import main as bench_main

        return bench_main(argv[1:])
    print(f"unknown command {command!r}\n" + USAGE, file=sys.stderr, end="")
    return 2


if __name__ == "__main__":
    sys.exit(main())
