"""The generic half of bench/RESULTS.md: JSON -> Markdown. md_table renders rows from a column spec (derive reads
the columns, as keys or functions of a row), render() lays out any JSON as sections, tables and lists, pick()
selects rows by glob patterns on their fields, stamp() says when a JSON was measured."""
from __future__ import annotations

import json
import subprocess
from fnmatch import fnmatchcase
from pathlib import Path

from bench._common import ROOT


def fmt(v) -> str:
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        if v == 0:
            return "0"
        return f"{v:,.3f}" if abs(v) < 10 else f"{v:,.1f}" if abs(v) < 1000 else f"{v:,.0f}"
    if isinstance(v, int):
        return f"{v:,}"
    return "" if v is None else str(v).replace("|", "/")


def derive(rows: list[dict], spec: list) -> list[dict]:
    """Rows as a column spec reads them. A spec entry is a key, or (header, key), or (header, function of the
    row), or (header, None) for an empty column; each derived row keeps its source row under ``_row``."""
    def get(r, how):
        return None if how is None else how(r) if callable(how) else r.get(how)
    return [{**{h: get(r, how) for h, how in (c if isinstance(c, tuple) else (c, c) for c in spec)}, "_row": r}
            for r in rows]


def heads(spec: list) -> list[str]:
    return [c[0] if isinstance(c, tuple) else c for c in spec]


NAME_KEYS = ("network", "tool", "engine", "kind", "model", "target", "script")     # first columns by default
HIDDEN = ("machine", "when")                    # stated once per section (the stamp), not in every table


def md_table(rows: list[dict], columns: list[str] | None = None) -> str:
    """A Markdown table; by default every scalar key in order of appearance, NAME_KEYS first."""
    if columns is None:
        columns = []
        for r in rows:
            columns += [k for k, v in r.items() if k not in columns and k not in HIDDEN
                        and not isinstance(v, (dict, list))]
        columns = [c for c in NAME_KEYS if c in columns] + [c for c in columns if c not in NAME_KEYS]
    out = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    return "\n".join(out + ["| " + " | ".join(fmt(r.get(c)) for c in columns) + " |" for r in rows])


def render(value, heading: str, level: int = 3) -> list[str]:
    """Any JSON: lists of dicts become tables (and their nested lists of dicts tables after them), dicts recurse,
    scalars become a key/value list."""
    lines = []
    if isinstance(value, list) and value and all(isinstance(r, dict) for r in value):
        lines += [f"{'#' * level} {heading}", "", md_table(value), ""]
        for r in value:
            for k, v in r.items():
                if isinstance(v, list) and v and all(isinstance(x, dict) for x in v):
                    label = r.get("network") or r.get("model") or r.get("kind") or ""
                    lines += [f"{heading} / {label} / {k}:", "", md_table(v), ""]
    elif isinstance(value, dict):
        value = {k: v for k, v in value.items() if k not in HIDDEN}
        scalars = {k: v for k, v in value.items() if not isinstance(v, (dict, list))}
        if scalars:
            lines += [f"{'#' * level} {heading}", ""] + [f"- {k}: {fmt(v)}" for k, v in scalars.items()] + [""]
        for k, v in value.items():
            if isinstance(v, (dict, list)):
                lines += render(v, f"{heading} / {k}", level)
    elif isinstance(value, list):
        lines += [f"- {heading}: {', '.join(fmt(v) for v in value)}", ""]
    return lines


def load(results: Path, name: str):
    path = results / f"{name}.json"
    return json.loads(path.read_text()) if path.is_file() else None


def pick(rows, **match) -> dict | None:
    """The first row whose fields match the glob patterns, e.g. ``pick(rows, tool="lgn2hw interpreter (1*")``."""
    return next(iter(picks(rows, **match)), None)


def picks(rows, **match) -> list[dict]:
    return [r for r in rows or [] if all(fnmatchcase(str(r.get(k, "")), p) for k, p in match.items())]


def stamp(path: Path, data) -> str:
    """When a JSON was measured: its ``when`` (or its rows'), else the date of the commit that last wrote it."""
    rows = data if isinstance(data, list) else [data]
    whens = sorted({r.get("when") for r in rows if isinstance(r, dict)} - {None})
    if whens:
        return "measured " + " to ".join(dict.fromkeys([whens[0], whens[-1]]))
    try:
        out = subprocess.run(["git", "log", "-1", "--format=%cs", "--", str(path)], cwd=ROOT, capture_output=True,
                             text=True, timeout=20).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        out = ""
    return f"committed {out} (the JSON records no date)" if out else "date not recorded"
