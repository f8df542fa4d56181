"""What every section reports through: tables with an explained header, targets flagged
met or missed, JSON with provenance, and figures that follow one convention.

A figure is titled, its axes are labelled with units, its legend names each mode or tool,
and the axis label says which direction is better ("lower is better").
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import sys
from dataclasses import dataclass, field

import numpy as np
import scipy

from .. import __version__

BLAS_ENV = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def blas_threads() -> dict:
    """``{"threads": n or None, "source": ...}``: threadpoolctl's count when installed,
    else the environment variables that set it.

    >>> sorted(blas_threads())
    ['env', 'source', 'threads']
    """
    env = {k: os.environ.get(k) for k in BLAS_ENV}
    try:
        from threadpoolctl import threadpool_info

        counts = [p["num_threads"] for p in threadpool_info() if p.get("user_api") == "blas"]
        if counts:
            return {"threads": max(counts), "source": "threadpoolctl", "env": env}
    except ImportError:
        pass
    given = [int(v) for v in env.values() if v and v.isdigit()]
    return {"threads": min(given) if given else None, "source": "environment", "env": env}


def provenance(argv=None) -> dict:
    """Versions, date, CPU count, BLAS threads and the command line of this run.

    >>> p = provenance(["--quick"])
    >>> p["command"].endswith("--quick") and "numpy" in p and "blas" in p
    True
    """

    argv = sys.argv[1:] if argv is None else list(argv)
    return {
        "dualdiff": __version__, "numpy": np.__version__, "scipy": scipy.__version__,
        "python": platform.python_version(), "platform": platform.platform(),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "cpu_count": os.cpu_count(), "blas": blas_threads(),
        "command": " ".join(["python -m dualdiff bench", *argv]),
    }


def write_json(path: str, data: dict, argv=None) -> str:
    """Write ``data`` with a ``provenance`` entry to path (NumPy scalars and arrays made plain).

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     p = write_json(os.path.join(d, "x.json"), {"a": np.float64(1.5)}, [])
    ...     json.load(open(p))["a"]
    1.5
    """
    def plain(o):
        if isinstance(o, np.generic):
            return o.item()
        if isinstance(o, np.ndarray):
            return o.tolist()
        return str(o)

    with open(path, "w") as fh:
        json.dump({"provenance": provenance(argv), **data}, fh, indent=1, default=plain)
    return path


# -- tables -------------------------------------------------------------------------------

@dataclass
class Column:
    key: str
    head: str
    fmt: str  # a format spec; "<w" for text left-aligned in w characters
    meaning: str


def _cell(value, fmt: str, width: int) -> str:
    if value is None:
        return "-".rjust(width)
    if isinstance(value, str):
        return value.ljust(width) if fmt.startswith("<") else value.rjust(width)
    return format(value, fmt).rjust(width)


class Table:
    """A printed table: a title, what each column means, the header, then rows as they come.

    >>> t = Table("demo", [("n", "n", "d", "inputs"), ("r", "ratio", ".1f", "time / f")])
    >>> _ = t.start(print)  # doctest: +NORMALIZE_WHITESPACE
    demo
        n: inputs
        ratio: time / f
        n ratio
    >>> _ = t.add(n=3, r=2.25)  # doctest: +NORMALIZE_WHITESPACE
        3 2.2
    """

    def __init__(self, title: str, columns: list):
        self.title = title
        self.columns = [Column(*c) for c in columns]
        self.rows: list = []
        self.widths = [max(len(c.head), 6, int(c.fmt[1:]) if c.fmt[:1] == "<" else 0)
                       for c in self.columns]
        self.log = print

    def start(self, log=print) -> Table:
        self.log = log
        log(self.title)
        for c in self.columns:
            log(f"    {c.head}: {c.meaning}")
        log("    " + " ".join(c.head.ljust(w) if c.fmt[:1] == "<" else c.head.rjust(w)
                             for c, w in zip(self.columns, self.widths)))
        return self

    def add(self, note: str = "", **row) -> dict:
        self.rows.append(row)
        line = " ".join(_cell(row.get(c.key), c.fmt, w)
                        for c, w in zip(self.columns, self.widths))
        self.log("    " + line + (f"  {note}" if note else ""))
        return row

    def as_dict(self) -> dict:
        return {"title": self.title,
                "columns": {c.key: f"{c.head}: {c.meaning}" for c in self.columns},
                "rows": self.rows}


# -- targets ------------------------------------------------------------------------------

@dataclass
class Target:
    """A figure against its target: ``value <= limit`` (or ``>=`` when ``higher`` is better).

    >>> Target("plan / f", 12.0, 15.0).line()
    'target plan / f: 12 <= 15  met'
    >>> Target("speed-up", 1.2, 1.5, higher=True).met
    False
    """

    name: str
    value: float
    limit: float
    higher: bool = False
    why: str = ""
    met: bool = field(init=False)

    def __post_init__(self):
        self.met = bool(self.value >= self.limit if self.higher else self.value <= self.limit)

    def line(self) -> str:
        op = ">=" if self.higher else "<="
        return (f"target {self.name}: {self.value:.3g} {op} {self.limit:g}  "
                f"{'met' if self.met else 'MISSED'}")

    def as_dict(self) -> dict:
        return {"name": self.name, "value": self.value, "limit": self.limit,
                "better": "higher" if self.higher else "lower", "met": self.met,
                "why": self.why}


# -- figures ------------------------------------------------------------------------------

#: one colour per mode / tool in every figure
COLORS = {"forward": "C0", "reverse": "C3", "auto": "k", "plan": "C2", "hyperdual": "C0",
          "forward-over-reverse": "C3", "scipy": "C7", "jax": "C1", "casadi": "C4",
          "torch": "C5", "autograd": "C8", "numdifftools": "C9", "dense": "C0"}


def pyplot():
    """matplotlib.pyplot on the Agg backend, or None when matplotlib is not installed."""
    try:
        import matplotlib
    except ImportError:
        return None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save(fig, path: str) -> str:
    """Save and close a figure (a footer names the command that made it)."""
    fig.text(0.99, 0.005, "python -m dualdiff bench", ha="right", va="bottom", fontsize=6,
             color="gray")
    fig.savefig(path, dpi=110, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return path


# -- the context a section runs in --------------------------------------------------------

@dataclass
class Context:
    """What a section gets: the options, where to write, and what it reports.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     c = Context(quick=True, peers={}, out=d, argv=[], log=lambda *a: None)
    ...     c.target(Target("x", 1.0, 2.0)).met, c.path("a.png").endswith("a.png")
    (True, True)
    """

    quick: bool
    peers: dict
    out: str
    argv: list
    log: object = print
    tables: list = field(default_factory=list)
    targets: list = field(default_factory=list)
    figures: list = field(default_factory=list)
    headlines: list = field(default_factory=list)
    markdown: list = field(default_factory=list)

    def path(self, name: str) -> str:
        return os.path.join(self.out, name)

    def table(self, title: str, columns: list) -> Table:
        t = Table(title, columns).start(self.log)
        self.tables.append(t)
        return t

    def target(self, t: Target) -> Target:
        self.targets.append(t)
        self.log("  " + t.line() + (f"  ({t.why})" if t.why else ""))
        return t

    def headline(self, text: str) -> None:
        """A line for the run's summary (``summary.md``)."""
        self.headlines.append(text)

    def md_table(self, title: str, head: list, rows: list) -> None:
        """A markdown table for summary.md (e.g. the peers beside dualdiff)."""
        self.markdown += ["", f"**{title}**", "", "| " + " | ".join(head) + " |",
                          "|" + "---|" * len(head)]
        self.markdown += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]

    def figure(self, fig, name: str) -> None:
        self.figures.append(os.path.basename(save(fig, self.path(name))))

    def has(self, peer: str) -> bool:
        return bool(self.peers.get(peer))

    def result(self, section: str, seconds: float, extra: dict | None = None) -> dict:
        return {"section": section, "quick": self.quick, "seconds": seconds,
                "tables": [t.as_dict() for t in self.tables],
                "targets": [t.as_dict() for t in self.targets], "figures": self.figures,
                "headlines": self.headlines, "markdown": self.markdown, **(extra or {})}
