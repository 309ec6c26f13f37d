"""The report's pictures, drawn with matplotlib (Agg backend, no display) and returned as PNG bytes.

- ``shares_png``: the share of time in each expression, one bar per face (and per file, and across files).
- ``timeline_png``: per recording, the audience's mean expression probabilities over time, stacked to 1.
- ``valence_png``: per recording, each face's valence over time and the audience's mean.

Many files: the bar chart shows the first ``MAX_BARS`` faces and the time plots the first ``MAX_PANELS``
recordings; every figure is in report.json and timeline.csv all the same.
"""

from __future__ import annotations

import io

import numpy as np

from ..errors import EmojiCamError
from ..types import EXPRESSION_LABELS, Expression
from .model import FileResult, Report, format_time

INSTALL_HINT = 'pip install "vcam-emoji[analytics]"'

# One colour per expression, in FER order, used by every plot and by report.html.
COLORS = {
    Expression.ANGRY: "#d62728",
    Expression.DISGUST: "#7f8c1d",
    Expression.FEAR: "#9467bd",
    Expression.HAPPY: "#f2b705",
    Expression.SAD: "#1f77b4",
    Expression.SURPRISE: "#ff7f0e",
    Expression.NEUTRAL: "#a6a6a6",
}
MAX_BARS = 40
MAX_PANELS = 8
DPI = 100


def _pyplot():
    """matplotlib's pyplot on the Agg backend (never a window). Raises EmojiCamError when matplotlib is missing."""
    try:
        import matplotlib
    except ImportError:
        raise EmojiCamError(f"the report's plots need matplotlib, which is not installed: {INSTALL_HINT}") from None
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def check_available() -> None:
    """Raise EmojiCamError now (before hours of analysis) if the plots cannot be drawn."""
    _pyplot()


def _png(fig) -> bytes:
    plt = _pyplot()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    plt.close(fig)
    return buffer.getvalue()


def _time_axis(ax) -> None:
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(nbins=8, steps=[1, 2, 2.5, 5, 10]))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: format_time(v)))


def _legend(fig, handles) -> None:
    fig.legend(handles=handles, labels=list(EXPRESSION_LABELS), loc="upper center", ncol=len(EXPRESSION_LABELS),
               frameon=False, bbox_to_anchor=(0.5, 1.0))


def _short(name: str, limit: int = 44) -> str:
    return name if len(name) <= limit else name[:limit - 13] + "..." + name[-10:]


def shares_png(report: Report) -> bytes:
    """Stacked horizontal bars: the share of time in each expression, across files, per file, per face."""
    plt = _pyplot()
    ok = [f for f in report.ok_files if f.persons]
    rows: list[tuple[str, np.ndarray, bool]] = []
    if ok:
        rows.append((f"all files ({len(ok)}), mean" if len(ok) > 1 else f"{_short(ok[0].name)}, all faces",
                     report.summary.shares, True))
    for f in ok:
        if len(ok) > 1:
            rows.append((f"{_short(f.name)}, all faces", f.summary.shares, True))
        for p in f.persons:
            rows.append((f"{_short(f.name)} · {p.label}", p.shares, False))
    shown = rows[:MAX_BARS + 1]
    height = 1.3 + 0.34 * max(len(shown), 1)
    fig, ax = plt.subplots(figsize=(10, height))
    if not shown:
        ax.text(0.5, 0.5, "no face was found", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return _png(fig)
    y = np.arange(len(shown))[::-1]
    left = np.zeros(len(shown))
    handles = []
    for e in Expression:
        values = np.array([r[1][e] for r in shown])
        handles.append(ax.barh(y, values, left=left, color=COLORS[e], edgecolor="white", linewidth=0.5))
        for yi, li, vi in zip(y, left, values):
            if vi >= 0.07:
                ax.text(li + vi / 2, yi, f"{vi * 100:.0f}%", ha="center", va="center", fontsize=8,
                        color="black" if e in (Expression.HAPPY, Expression.NEUTRAL, Expression.SURPRISE) else "white")
        left += values
    ax.set_yticks(y, [r[0] for r in shown], fontsize=9)
    for tick, row in zip(ax.get_yticklabels(), shown):
        tick.set_fontweight("bold" if row[2] else "normal")
    ax.set_xlim(0, 1)
    ax.xaxis.set_major_formatter(lambda v, _: f"{v * 100:.0f}%")
    ax.set_xlabel("share of the time the face was visible")
    more = len(rows) - len(shown)
    if more > 0:
        ax.set_title(f"first {len(shown)} rows shown; {more} more in report.json", fontsize=9)
    _legend(fig, handles)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.45 / height))
    return _png(fig)


def _panel_figure(report: Report):
    """One panel per recording with a timeline (at most MAX_PANELS): (files shown, how many had one, pyplot, figure,
    axes, height in inches), or None where no recording has one."""
    files = [f for f in report.ok_files if f.audience is not None and len(f.audience.t_s) > 1 and f.persons]
    if not files:
        return None
    total = len(files)
    files = files[:MAX_PANELS]
    plt = _pyplot()
    height = 0.9 + 2.1 * len(files)
    fig, axes = plt.subplots(len(files), 1, figsize=(10, height), squeeze=False)
    return files, total, plt, fig, [a[0] for a in axes], height


def _panel_title(ax, f: FileResult) -> None:
    ax.set_title(f"{_short(f.name, 70)}: {f.summary.persons} face(s), {format_time(f.duration_s)}", fontsize=10,
                 loc="left")


def timeline_png(report: Report) -> bytes | None:
    """Per recording, the audience's mean probabilities over time, stacked to 1 (white where no face was seen)."""
    panels = _panel_figure(report)
    if panels is None:
        return None
    files, total, plt, fig, axes, height = panels
    handles = []
    for ax, f in zip(axes, files):
        a = f.audience
        every = float(a.t_s[1] - a.t_s[0])
        # each sample covers [t, t + every): draw it as a step so the area shows what was measured, not a guess
        edges = np.append(a.t_s, a.t_s[-1] + every)
        probs = np.vstack([a.mean_probs, a.mean_probs[-1:]])
        handles = ax.stackplot(edges, probs.T, colors=[COLORS[e] for e in Expression], step="post", linewidth=0)
        ax.set_xlim(0, edges[-1])
        ax.set_ylim(0, 1)
        ax.set_ylabel("mean probability", fontsize=9)
        ax.yaxis.set_major_formatter(lambda v, _: f"{v * 100:.0f}%")
        _time_axis(ax)
        _panel_title(ax, f)
    axes[-1].set_xlabel("time in the recording" + (f" (first {len(files)} of {total} recordings)"
                                                  if total > len(files) else ""))
    _legend(fig, handles)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.45 / height))
    return _png(fig)


def valence_png(report: Report) -> bytes | None:
    """Per recording, each face's valence (P(happy) - P(negative)) over time, and the audience's mean."""
    panels = _panel_figure(report)
    if panels is None:
        return None
    files, total, plt, fig, axes, height = panels
    cycle = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, f in zip(axes, files):
        every = float(f.audience.t_s[1] - f.audience.t_s[0])
        for i, p in enumerate(f.persons):
            ax.plot(p.series.t_s + every / 2, p.series.valence, marker=".", markersize=3, linewidth=1.2,
                    color=cycle[i % len(cycle)], label=p.label)
        a = f.audience
        seen = a.faces > 0
        if len(f.persons) > 1:
            ax.plot(a.t_s[seen] + every / 2, a.mean_valence[seen], color="black", linestyle="--", linewidth=1.4,
                    label="mean")
        ax.axhline(0, color="#888888", linewidth=0.8)
        ax.set_ylim(-1.05, 1.05)
        ax.set_xlim(0, a.t_s[-1] + every)
        ax.set_ylabel("valence", fontsize=9)
        _time_axis(ax)
        _panel_title(ax, f)
        ax.legend(loc="upper right", fontsize=8, ncol=min(6, len(f.persons) + 1), frameon=False)
    axes[-1].set_xlabel("time in the recording" + (f" (first {len(files)} of {total} recordings)"
                                                  if total > len(files) else ""))
    fig.suptitle("valence: P(happy) - P(angry + disgust + fear + sad)", fontsize=10)
    fig.tight_layout()
    return _png(fig)
