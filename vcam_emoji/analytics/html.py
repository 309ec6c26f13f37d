"""``report.html``: one self-contained page (CSS inline, plots embedded as data: URIs, no script, no link out), so
it opens from a USB stick or an e-mail attachment with no network."""

from __future__ import annotations

import base64
import html
from typing import Mapping

import numpy as np

from ..types import EXPRESSION_LABELS, Expression
from .model import FileResult, Moment, Report, Summary, format_time
from .plots import COLORS

MAX_DETAILED_FILES = 50
MOMENT_MIN_P = 0.25  # moments below this probability are not worth a reader's attention (report.json has them all)

_CSS = """
body { font-family: "DejaVu Sans", Arial, sans-serif; margin: 24px auto; max-width: 1040px; color: #222;
       line-height: 1.4; }
h1 { font-size: 24px; margin-bottom: 4px; } h2 { font-size: 19px; margin-top: 32px; border-bottom: 1px solid #ddd; }
h3 { font-size: 16px; margin-top: 22px; }
.meta { color: #666; font-size: 13px; }
table { border-collapse: collapse; margin: 8px 0 14px; font-size: 13px; }
th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: right; }
th { background: #f4f4f4; } td.l, th.l { text-align: left; }
.sw { display: inline-block; width: 10px; height: 10px; margin-right: 4px; border-radius: 2px; }
.bar { display: flex; height: 18px; width: 320px; border: 1px solid #ccc; }
.bar span { display: block; height: 100%; }
.failed td { color: #a00; }
.kpi { display: inline-block; margin: 6px 22px 6px 0; } .kpi b { font-size: 20px; display: block; }
img { max-width: 100%; border: 1px solid #eee; margin: 6px 0; }
.note { font-size: 12px; color: #555; }
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _pct(value: float) -> str:
    return f"{value * 100:.0f}%"


def _swatch(e: Expression) -> str:
    return f'<span class="sw" style="background:{COLORS[e]}"></span>'


def _bar(shares: np.ndarray) -> str:
    parts = "".join(f'<span title="{e.label} {_pct(shares[e])}" style="width:{shares[e] * 100:.2f}%;'
                    f'background:{COLORS[e]}"></span>' for e in Expression if shares[e] > 0)
    return f'<div class="bar">{parts}</div>'


def _img(png: bytes | None, alt: str) -> str:
    if png is None:
        return ""
    data = base64.b64encode(png).decode("ascii")
    return f'<img alt="{_e(alt)}" src="data:image/png;base64,{data}">'


def _duration(seconds: float, kind: str) -> str:
    return "photo" if kind == "photo" else format_time(seconds)


def _shares_table(rows: list[tuple[str, Summary | object]], kind: str = "video") -> str:
    head = "".join(f'<th>{_swatch(e)}{e.label}</th>' for e in Expression)
    out = [f'<table><tr><th class="l"></th><th class="l">shares</th>{head}<th>valence</th><th>visible</th></tr>']
    for label, item in rows:
        shares, valence, visible = item.shares, item.mean_valence, item.visible_s
        cells = "".join(f"<td>{_pct(shares[e])}</td>" for e in Expression)
        out.append(f'<tr><td class="l" style="white-space:nowrap">{_e(label)}</td>'
                   f'<td class="l">{_bar(shares)}</td>{cells}'
                   f"<td>{valence:+.2f}</td><td>{_duration(visible, kind)}</td></tr>")
    out.append("</table>")
    return "".join(out)


def _audience_moments(f: FileResult) -> str:
    if f.audience is None or not f.persons:
        return ""
    rows = []
    for e in Expression:
        moments: tuple[Moment, ...] = tuple(m for m in f.audience.moments.get(e, ()) if m.p >= MOMENT_MIN_P)
        if not moments:
            continue
        cells = "; ".join(f"<b>{format_time(m.t_s)}</b> {_pct(m.p)}"
                          + (f" ({m.share * m.faces:.0f} of {m.faces} face(s) mostly {e.label})"
                             if m.share and m.faces else "")
                          for m in moments)
        rows.append(f'<tr><td class="l">{_swatch(e)}{e.label}</td><td class="l">{cells}</td></tr>')
    if not rows:
        return f"<p>No expression reached {_pct(MOMENT_MIN_P)} in any sample.</p>"
    return ('<table><tr><th class="l">expression</th><th class="l">strongest moments of the audience (time, mean '
            "probability over the faces seen)</th></tr>" + "".join(rows) + "</table>")


def _person_moments(f: FileResult) -> str:
    head = "".join(f"<th>{_swatch(e)}{e.label}</th>" for e in Expression)
    rows = []
    for p in f.persons:
        cells = "".join(
            "<td>" + (", ".join(f"{format_time(m.t_s)} ({_pct(m.p)})" for m in p.moments.get(e, ())[:2]
                                if m.p >= MOMENT_MIN_P) or "-") + "</td>"
            for e in Expression)
        rows.append(f'<tr><td class="l">{_e(p.label)}</td>{cells}</tr>')
    return (f'<table><tr><th class="l">strongest moments</th>{head}</tr>' + "".join(rows) + "</table>")


def _file_section(f: FileResult) -> str:
    size = f"{f.size_wh[0]}x{f.size_wh[1]}, " if f.size_wh else ""
    fps = f"{f.fps:.2f} fps, " if f.fps else ""
    extra = f", {f.dropped_tracks} short track(s) left out" if f.dropped_tracks else ""
    out = [f"<h3>{_e(f.name)}</h3>",
           f'<p class="meta">{_e(f.path)} · {_e(f.kind)}, {size}{fps}{f.frames} frame(s), '
           f"{format_time(f.duration_s)}{_e(extra)}</p>"]
    if not f.persons:
        out.append("<p>No face was found in this recording.</p>")
        return "".join(out)
    rows: list[tuple[str, object]] = [(p.label, p) for p in f.persons]
    if len(f.persons) > 1:
        rows.insert(0, ("all faces", f.summary))
    out.append(_shares_table(rows, f.kind))
    if f.kind != "photo":
        out.append(_audience_moments(f))
        out.append(_person_moments(f))
    return "".join(out)


def _settings_line(settings: Mapping[str, object]) -> str:
    every = settings.get("every_ms")
    parts = [f"samples every {every:g} ms" if isinstance(every, (int, float)) else ""]
    for key, label in (("detector", "detector"), ("classifier", "classifier")):
        if settings.get(key):
            parts.append(f"{label} {settings[key]}")
    smoothing = settings.get("smoothing")
    if isinstance(smoothing, Mapping):
        parts.append(f"smoothing {smoothing.get('time_constant_ms'):g} ms")
    if settings.get("source") == "timeline":
        parts.append("from a recorded timeline")
    return ", ".join(p for p in parts if p)


def report_html(report: Report, pngs: Mapping[str, bytes | None]) -> str:
    """The page. ``pngs``: "shares", "timeline", "valence" -> PNG bytes (or None when there is nothing to plot)."""
    ok, failed = report.ok_files, report.failed_files
    total_s = sum(f.duration_s for f in ok)
    s = report.summary
    dominant = s.dominant.label if s.dominant is not None else "-"
    gen = report.generator
    body = [
        "<h1>Emotion report</h1>",
        f'<p class="meta">{len(report.files)} file(s): {len(ok)} analysed, {len(failed)} failed · '
        f"{_e(_settings_line(report.settings))} · made by {_e(gen.get('program', ''))} {_e(gen.get('version', ''))}"
        "</p>",
        f'<div class="kpi"><b>{s.persons}</b>faces</div>',
        f'<div class="kpi"><b>{format_time(total_s)}</b>recorded</div>',
        f'<div class="kpi"><b>{format_time(s.visible_s)}</b>face time</div>',
        f'<div class="kpi"><b>{_e(dominant)}</b>most of the time</div>',
        f'<div class="kpi"><b>{s.mean_valence:+.2f}</b>mean valence</div>',
        "<h2>What the audience showed</h2>",
        _shares_table([("all files, mean" if len(ok) > 1 else "all faces", s)]),
        _img(pngs.get("shares"), "share of time in each expression"),
    ]
    if pngs.get("timeline") or pngs.get("valence"):
        body += ["<h2>Over time</h2>", _img(pngs.get("timeline"), "expressions over time"),
                 _img(pngs.get("valence"), "valence over time")]
    body.append("<h2>Files</h2>")
    rows = []
    for f in report.files:
        if f.ok:
            dom = f.summary.dominant.label if f.summary.dominant is not None else "-"
            rows.append(f'<tr><td class="l">{_e(f.name)}</td><td class="l">{_e(f.kind)}</td>'
                        f"<td>{_duration(f.duration_s, f.kind)}</td><td>{f.summary.persons}</td>"
                        f'<td class="l">{_e(dom)}</td><td>{f.summary.mean_valence:+.2f}</td><td class="l">ok</td></tr>')
        else:
            rows.append(f'<tr class="failed"><td class="l">{_e(f.name)}</td><td class="l">{_e(f.kind)}</td>'
                        f'<td></td><td></td><td></td><td></td><td class="l">failed: {_e(f.error)}</td></tr>')
    body.append('<table><tr><th class="l">file</th><th class="l">kind</th><th>duration</th><th>faces</th>'
                '<th class="l">mostly</th><th>valence</th><th class="l">status</th></tr>' + "".join(rows) + "</table>")
    for f in ok[:MAX_DETAILED_FILES]:
        body.append(_file_section(f))
    if len(ok) > MAX_DETAILED_FILES:
        body.append(f"<p>{len(ok) - MAX_DETAILED_FILES} more file(s): see report.json and timeline.csv.</p>")
    if failed:
        body.append("<h2>Failed files</h2><ul>" + "".join(f"<li>{_e(f.path)}: {_e(f.error)}</li>" for f in failed)
                    + "</ul>")
    labels = ", ".join(EXPRESSION_LABELS)
    body.append(
        '<h2>How to read this</h2><p class="note">Expressions: ' + _e(labels) + ". <b>Shares</b>: the fraction of "
        "the time a face was visible in which each expression was its most probable one (after the app's temporal "
        "smoothing); they add up to 100% for every face. A file's row weighs its faces by how long they were "
        "visible; the row across files gives each file the same weight. <b>Valence</b>: P(happy) minus P(angry, "
        "disgust, fear, sad), from -1 to +1; surprise and neutral count as 0. <b>Strongest moments</b>: the samples "
        "(windows of the sample length) where an expression was most probable, at least a second apart (those under "
        f"{_pct(MOMENT_MIN_P)} are left out here). Faces are "
        "told apart by tracking within one recording only: a person who leaves and comes back is a new face. The "
        "bundled expression model is right about 2 times in 3 on the FER-2013 test set: read single moments with "
        "care, and trends over many faces with more confidence.</p>")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>Emotion report</title><style>{_CSS}</style></head><body>\n" + "\n".join(body)
            + "\n</body></html>\n")
