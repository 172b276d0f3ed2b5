"""``pareto.html``: the front as one self-contained, offline HTML file (inline SVG and script).

The same three panels as ``pareto.png`` (search objectives, 200-epoch accuracy, after
training). Hovering a point shows its arch string, every objective of the run, 200-epoch
accuracies (table), trained accuracy, band and on_front (if any) and its id; clicking a front
member shows the ``python -m evonas pick RUN --id N`` command and copies it, clicking a member
of the front after training (third panel) ``python -m evonas pick RUN --trained --id N``. A
table below lists the front and the shortlist. No network access and no JavaScript library
are needed; the page's template and script are ``viz.page``'s.
"""
from __future__ import annotations

import html
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
from matplotlib import colormaps
from matplotlib.colors import LogNorm, Normalize, to_hex
from matplotlib.ticker import LogLocator, MaxNLocator

from evonas.files import atomic_write_text
from evonas.datasets import DATASETS
from evonas.viz.page import PAGE, SCRIPT
from evonas.viz.view import FrontView, axis_label, number, trained_label, use_log

__all__ = ["plot_html", "render_html"]

W, H = 520, 400                      # one panel, in SVG units
M_LEFT, M_RIGHT, M_TOP, M_BOTTOM = 64, 16, 28, 48
_ACCURACIES = tuple(spec.test_column for spec in DATASETS.values())


@dataclass(frozen=True)
class _Scale:
    lo: float
    hi: float
    log: bool
    a: float      # pixel range start
    b: float      # pixel range end

    @classmethod
    def fit(cls, values: Sequence[float], a: float, b: float, *, log: bool | None = None) -> "_Scale":
        vals = [v for v in values if v is not None and math.isfinite(v)] or [0.0, 1.0]
        log = use_log(vals) if log is None else log
        lo, hi = min(vals), max(vals)
        if log:
            lo, hi = math.log10(lo), math.log10(hi)
        pad = (hi - lo) * 0.05 or 0.5
        return cls(lo - pad, hi + pad, log, a, b)

    def __call__(self, v: float) -> float:
        t = math.log10(v) if self.log else v
        return self.a + (t - self.lo) / (self.hi - self.lo) * (self.b - self.a)

    def ticks(self) -> list[float]:
        if self.log:
            lo, hi = 10 ** self.lo, 10 ** self.hi
            raw = LogLocator(base=10, subs=(1.0, 2.0, 5.0)).tick_values(lo, hi)
            return [float(t) for t in raw if lo <= t <= hi]
        return [float(t) for t in MaxNLocator(6).tick_values(self.lo, self.hi) if self.lo <= t <= self.hi]


def _fmt(v: float) -> str:
    return f"{v:.4g}"


def _record(row: Mapping[str, Any], objectives: Sequence[str], gap: float | None, *, front: bool) -> dict[str, Any]:
    """What hovering shows; ``id``: a member's id (front or shortlist), ``front``: on the search front."""
    member = row.get("id") not in (None, "")
    rec: dict[str, Any] = {"id": int(row["id"]) if member else None, "front": front, "arch": row["arch"],
                           "index": row.get("index"), "obj": {k: number(row.get(k)) for k in objectives},
                           "acc": {k: number(row.get(k)) for k in _ACCURACIES if number(row.get(k)) is not None}}
    if number(row.get("trained_test_acc")) is not None:
        rec["trained"] = [number(row["trained_test_acc"]), str(row.get("trained_epochs", ""))]
        if row.get("trained_test_acc_low") is not None:  # its 95 % interval, and the test images it counts
            rec["tci"] = [row["trained_test_acc_low"], row["trained_test_acc_high"], str(row.get("trained_test_n", ""))]
        rec["tfront"] = bool(row.get("trained_front"))
    if row.get("band") not in (None, ""):
        rec["band"] = str(row["band"])
    if row.get("on_front") is not None:
        rec["on_front"] = bool(row["on_front"])
    if gap is not None:
        rec["gap"] = gap
    return rec


def _panel(ox: float, title: str, x: str, y: str, layers: list[tuple[str, list[tuple[float, float, int]]]],
           step: tuple[np.ndarray, np.ndarray, str, str] | None, note: str, labels: Mapping[int, str], *,
           y_label: str | None = None, fills: Mapping[int, str] | None = None, kind: str = "",
           bars: Sequence[tuple[float, float, float]] = ()) -> str:
    """One panel's SVG: axes, ticks, a step line and point layers (class, [(x, y, record)]).

    ``step``: (x, y, class, title) of a front drawn as a step line to the panel's right edge.
    ``labels``: record -> the id drawn next to its point in the layers "front", "trained" and "tfront".
    ``fills``: record -> a colour for its point in the layer "front". ``kind``: the points' ``data-k``
    (the click command depends on it). ``bars``: (x, low, high) of vertical error bars.
    """
    xs = [p[0] for _, pts in layers for p in pts] + ([] if step is None else list(step[0]))
    sx = _Scale.fit(xs, ox + M_LEFT, ox + W - M_RIGHT)
    sy = _Scale.fit([p[1] for _, pts in layers for p in pts] + [v for b in bars for v in b[1:]], H - M_BOTTOM, M_TOP,
                    log=False if step is not None else None)
    out = [f'<g class="panel"><text x="{ox + W / 2}" y="16" class="title">{html.escape(title)}</text>',
           f'<rect x="{ox + M_LEFT}" y="{M_TOP}" width="{W - M_LEFT - M_RIGHT}" height="{H - M_TOP - M_BOTTOM}" '
           f'class="frame"/>']
    if any(pts for _, pts in layers):
        for t in sx.ticks():
            px = sx(t)
            out.append(f'<line x1="{px:.1f}" x2="{px:.1f}" y1="{M_TOP}" y2="{H - M_BOTTOM}" class="grid"/>'
                       f'<text x="{px:.1f}" y="{H - M_BOTTOM + 14}" class="tick" text-anchor="middle">{_fmt(t)}</text>')
        for t in sy.ticks():
            py = sy(t)
            out.append(f'<line x1="{ox + M_LEFT}" x2="{ox + W - M_RIGHT}" y1="{py:.1f}" y2="{py:.1f}" class="grid"/>'
                       f'<text x="{ox + M_LEFT - 4}" y="{py + 3:.1f}" class="tick" text-anchor="end">{_fmt(t)}</text>')
    out.append(f'<text x="{ox + (W + M_LEFT) / 2}" y="{H - 12}" class="label">{html.escape(axis_label(x))}'
               f'{" (log)" if sx.log else ""}</text>')
    out.append(f'<text transform="translate({ox + 14},{(H - M_BOTTOM + M_TOP) / 2}) rotate(-90)" class="label">'
               f'{html.escape(y_label or axis_label(y))}{" (log)" if sy.log else ""}</text>')
    out.append(f'<clipPath id="clip{int(ox)}"><rect x="{ox + M_LEFT}" y="{M_TOP}" width="{W - M_LEFT - M_RIGHT}" '
               f'height="{H - M_TOP - M_BOTTOM}"/></clipPath><g clip-path="url(#clip{int(ox)})">')
    if step is not None and len(step[0]):
        pts, prev = [], None
        for cx, cy in zip(step[0], step[1]):
            if prev is not None:
                pts.append(f"{sx(cx):.1f},{sy(prev):.1f}")
            pts.append(f"{sx(cx):.1f},{sy(max(cy, 1e-9) if sy.log else cy):.1f}")
            prev = cy
        pts.append(f"{ox + W - M_RIGHT:.1f},{sy(prev):.1f}")
        out.append(f'<polyline points="{" ".join(pts)}" class="{step[2]}"><title>{html.escape(step[3])}</title>'
                   f'</polyline>')
    for bx, low, high in bars:
        out.append(f'<line x1="{sx(bx):.1f}" x2="{sx(bx):.1f}" y1="{sy(low):.1f}" y2="{sy(high):.1f}" class="bar"/>')
    k = f' data-k="{kind}"' if kind else ""  # "t": the trained panel
    for cls, points in layers:
        for px, py, r in points:
            fill = (fills or {}).get(r) if cls == "front" else None
            style = f' style="fill:{fill}"' if fill else ""
            out.append(f'<circle cx="{sx(px):.1f}" cy="{sy(py):.1f}" r="{_RADIUS[cls]}" class="{cls}"{style} '
                       f'data-r="{r}"{k}/>')
    out.append("</g>")
    for cls, points in layers:
        if cls in _LABELLED:
            for px, py, r in points:
                out.append(f'<text x="{sx(px) + 5:.1f}" y="{sy(py) - 5:.1f}" class="idlabel {cls}">{labels[r]}</text>')
    if note:
        out.append(f'<text x="{ox + M_LEFT + 6}" y="{M_TOP + 14}" class="note">{html.escape(note)}</text>')
    out.append("</g>")
    return "".join(out)


_RADIUS = {"cand": 3, "front": 5, "trained": 5, "tfront": 6}
_LABELLED = ("front", "trained", "tfront")
_TRAINED_KIND = ' data-k="t"'  # a point or row whose click gives the trained pick command


def _points(rows: Sequence[Mapping[str, Any]], x: str, y: str, rec_of: Callable[[Mapping[str, Any]], int]
            ) -> list[tuple[float, float, int]]:
    out = []
    for r in rows:
        px, py = number(r.get(x)), number(r.get(y))
        if px is not None and py is not None:
            out.append((px, py, rec_of(r)))
    return out


def _fills(view: FrontView, rec: Callable[[Mapping[str, Any]], int]) -> tuple[dict[int, str], str]:
    """The front's colours by the first objective off the search panel's axes, and the note that names it."""
    shade = view.colour_by
    values = {rec(r): number(r.get(shade)) for r in view.front} if shade else {}
    known = {i: v for i, v in values.items() if v is not None}
    if not known:
        return {}, ""
    vals = list(known.values())
    norm = LogNorm(min(vals), max(vals)) if use_log(vals) else Normalize(min(vals), max(vals))
    cmap = colormaps["viridis"]
    fills = {i: to_hex(cmap(float(norm(v)))) for i, v in known.items()}
    return fills, (f"colour: {shade} ({view.directions.get(shade, '')}), dark {_fmt(min(vals))} .. "
                   f"bright {_fmt(max(vals))}; a projection of {len(view.directions)} objectives")


def render_html(view: FrontView, objectives: Sequence[str]) -> str:
    """The page as a string (pure: no file access)."""
    records: list[dict[str, Any]] = []
    index_of: dict[int, int] = {}
    gaps = view.gaps
    front_ids = {int(r["id"]) for r in view.front}
    for r in view.members:
        index_of[id(r)] = len(records)
        on = int(r["id"]) in front_ids
        records.append(_record(r, objectives, gaps.get(int(r["id"])) if on else None, front=on))
    for r in view.candidates:
        index_of[id(r)] = len(records)
        records.append(_record(r, objectives, None, front=False))
    labels = {i: str(r["id"]) for i, r in enumerate(records) if r["id"] is not None}

    def rec(r: Mapping[str, Any]) -> int:
        return index_of[id(r)]

    fills, shade_note = _fills(view, rec)
    left = _panel(0, "search objectives", view.x, view.y,
                  [("cand", _points(view.candidates, view.x, view.y, rec)),
                   ("front", _points(view.front, view.x, view.y, rec))], None, shade_note, labels, fills=fills)
    step = (None if view.reference is None
            else (view.reference.cost, view.reference.accuracy, "truth", "true NB201 front"))
    title = "found front at NB201's 200-epoch accuracy" if view.benchmark else "found front at its trained accuracy"
    if gaps:
        title += f" (median gap {np.median(list(gaps.values())):.2f} pts)"
    middle = _panel(W, title, view.cost, view.accuracy,
                    [("cand", _points(view.candidates, view.cost, view.accuracy, rec)),
                     ("front", _points(view.front, view.cost, view.accuracy, rec))],
                    step, "" if view.reference is not None else (f"no true front: {view.note}" if view.benchmark else
                                                                 view.accuracy_note),
                    labels, y_label=None if view.benchmark else trained_label(view.accuracy, view.trained_epochs))
    trained, tfront = view.trained(), view.trained_front()
    tpoints = _points(tfront, view.trained_cost, "trained_test_acc", rec)
    intervals = view.trained_intervals()
    bars = [(number(r.get(view.trained_cost)), *intervals[int(r["id"])]) for r in trained
            if int(r["id"]) in intervals and number(r.get(view.trained_cost)) is not None]
    right = _panel(2 * W, f"after training ({len(trained)} trained)" if trained else "after training",
                   view.trained_cost, "trained_test_acc",
                   [("trained", _points([r for r in trained if not r.get("trained_front")], view.trained_cost,
                                        "trained_test_acc", rec)),
                    ("tfront", tpoints)],
                   (np.array([p[0] for p in tpoints]), np.array([p[1] for p in tpoints]), "tline",
                    "front after training") if trained else None,
                   "" if trained else "not trained yet", labels,
                   y_label=trained_label(view.accuracy, view.trained_epochs), kind="t", bars=bars)
    columns = list(dict.fromkeys([*objectives, *([view.accuracy] if view.benchmark else [])]))
    shortlist = any("band" in r or "on_front" in r for r in view.members)
    extra = ["band", "on front"] if shortlist else []
    rows_html = "".join(
        f'<tr data-r="{rec(r)}"{_TRAINED_KIND if r.get("trained_front") else ""}>'
        f'<td>{html.escape(str(r["id"]))}</td><td class="arch">{html.escape(r["arch"])}</td>'
        + "".join(f"<td>{_fmt(number(r.get(k)))}</td>" if number(r.get(k)) is not None else "<td></td>"
                  for k in columns)
        + (f"<td>{_fmt(gaps[int(r['id'])]) if int(r['id']) in gaps else ''}</td>" if view.benchmark else "")
        + ("".join(f"<td>{html.escape(str(v))}</td>" for v in (
            r.get("band", ""), {True: "yes", False: "no"}.get(r.get("on_front"), ""))) if shortlist else "")
        + f"<td>{'yes' if r.get('trained_front') else ''}</td>"
        + f"<td>{_fmt(r['trained_test_acc']) if number(r.get('trained_test_acc')) is not None else ''}</td></tr>"
        for r in view.members)
    gap = ["gap to true front"] if view.benchmark else []
    head = "".join(f"<th>{html.escape(k)}</th>" for k in ["id", "arch", *columns, *gap, *extra,
                                                           "front after training", "trained test acc"])
    data = json.dumps({"records": records, "run": view.run_path, "objectives": list(objectives)})
    data = data.replace("</", "<\\/")
    legend = ('<span class="key cand"></span> scored candidate <span class="key front"></span> front member '
              '(id) ' + ('<span class="key truth"></span> true NB201 front (table) ' if view.benchmark else '')
              + '<span class="key trained"></span> trained here <span class="key tfront"></span> front after training'
              + (f' (bars: 95 % intervals on {view.trained_test_n} test images)' if bars else ''))
    return PAGE.format(title=html.escape(view.title), width=3 * W, height=H, svg=left + middle + right,
                        legend=legend, head=head, rows=rows_html, data=data, script=SCRIPT)


def plot_html(view: FrontView, path: Path | str) -> Path:
    """Write the page (e.g. ``pareto.html`` next to ``pareto.png``)."""
    return atomic_write_text(path, render_html(view, view.objectives or (view.y, view.x)))
