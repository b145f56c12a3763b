"""A self-contained HTML leaderboard page: the table (sortable by a small inline script) and
inline SVG plots drawn here, so the page needs no network and renders without JavaScript."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from html import escape
from importlib import resources

from harness.reports.leaderboard import (
    FLAG_MARKS,
    Cell,
    Leaderboard,
    Row,
    clean_samples_text,
    legend,
    samples_text,
)
from harness.reports.loading import parse_pass_k

PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
           "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac")
LABEL_WIDTH = 190
PLOT_WIDTH = 380
BAR_ROW = 26


def color(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def render(board: Leaderboard, title: str = "harness leaderboard",
           generated: datetime | None = None) -> str:
    template = resources.files("harness.reports").joinpath("leaderboard.html").read_text(
        encoding="utf-8")
    moment = (generated or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC")
    runs = sum(len(row.cells) for row in board.rows)
    meta = (f"Generated {moment} from {runs} run(s), {len(board.rows)} row(s), "
            f"{len(board.tasks)} task(s).")
    notes = [escape(line) for line in [*legend(board), *board.notes]]
    replacements = {
        "<!--@title-->": escape(title),
        "<!--@meta-->": escape(meta),
        "<!--@table-->": table_html(board),
        "<!--@notes-->": "<br>".join(notes),
        "<!--@bars-->": "\n".join(bar_charts(board)) or '<p class="hint">No scores.</p>',
        "<!--@curves-->": "\n".join(pass_k_charts(board)) or (
            '<p class="hint">pass@k curves need runs with several pass@k values '
            "(n &ge; 10 samples per problem).</p>"),
    }
    for marker, text in replacements.items():
        template = template.replace(marker, text)
    return template


# --- table ------------------------------------------------------------------------------


def table_html(board: Leaderboard) -> str:
    first_column = next((f"{t} {m}" for t, m in board.columns()), "")
    groups = ['<th class="text" colspan="2"></th>']
    heads = [_head("model", "model", "text"), _head("settings", "settings", "text")]
    for task in board.tasks:
        span = len(board.metrics[task]) + 1 + board.has_clean(task)
        groups.append(f'<th class="group" colspan="{span}">{escape(task)}</th>')
        for index, metric in enumerate(board.metrics[task]):
            heads.append(_head(f"{task} {metric}", metric, "number", first=index == 0,
                               sorted_=f"{task} {metric}" == first_column))
        heads.append(_head(f"{task} problems", "problems×n", "number",
                           first=not board.metrics[task]))
        if board.has_clean(task):
            heads.append(_head(f"{task} clean problems", "clean problems×n", "number"))
    body = [_row_html(index, row, board) for index, row in enumerate(board.rows)]
    sorted_by = f' data-sorted-by="{escape(first_column)}:descending"' if first_column else ""
    return (f'<table id="leaderboard"{sorted_by}>\n<thead>\n<tr>{"".join(groups)}</tr>\n'
            f'<tr>{"".join(heads)}</tr>\n</thead>\n<tbody>\n' + "\n".join(body)
            + "\n</tbody>\n</table>")


def _head(column: str, text: str, kind: str, first: bool = False, sorted_: bool = False) -> str:
    classes = ["sortable", "text" if kind == "text" else ""] + (["first"] if first else [])
    sort = ' aria-sort="descending"' if sorted_ else ""
    return (f'<th class="{" ".join(c for c in classes if c)}" data-col="{escape(column)}" '
            f'data-type="{kind}"{sort}>{escape(text)}</th>')


def _row_html(index: int, row: Row, board: Leaderboard) -> str:
    swatch = f'<span class="swatch" style="background:{color(index)}"></span>'
    cells = [
        f'<td class="text" data-col="model" data-sort="{escape(row.label)}">{swatch}'
        f"{escape(row.label)}</td>",
        f'<td class="text" data-col="settings" data-sort="{escape(row.settings_text)}">'
        f"{escape(row.settings_text)}</td>",
    ]
    for task in board.tasks:
        cell = row.cells.get(task)
        for position, metric in enumerate(board.metrics[task]):
            cells.append(_metric_td(f"{task} {metric}", cell, metric, position == 0))
        cells.append(_samples_td(task, cell, first=not board.metrics[task]))
        if board.has_clean(task):
            clean = cell.run.clean if cell else None
            cells.append(f'<td data-col="{escape(f"{task} clean problems")}" '
                         f'data-sort="{clean.num_problems if clean else ""}">'
                         f"{escape(clean_samples_text(cell))}</td>")
    return f'<tr data-model="{escape(row.label)}">' + "".join(cells) + "</tr>"


def _metric_td(column: str, cell: Cell | None, metric: str, first: bool) -> str:
    klass = ' class="first"' if first else ""
    value = cell.values.get(metric) if cell else None
    if value is None:
        return f'<td{klass} data-col="{escape(column)}" data-sort="">–</td>'
    interval = ""
    if value.ci95 is not None:
        interval = f'<span class="ci">{value.ci95[0]:.1f}–{value.ci95[1]:.1f}</span>'
    return (f'<td{klass} data-col="{escape(column)}" data-sort="{value.value:.6f}">'
            f"{value.value:.1f}{interval}</td>")


def _samples_td(task: str, cell: Cell | None, first: bool) -> str:
    klass = ' class="first"' if first else ""
    column = escape(f"{task} problems")
    if cell is None:
        return f'<td{klass} data-col="{column}" data-sort="">–</td>'
    text = samples_text(cell)
    flags = "".join(FLAG_MARKS[f] for f in cell.flags)
    shown = escape(text.removesuffix(flags))
    if flags:
        shown += (f'<span class="flag" title="{escape(", ".join(cell.flags))}">'
                  f"{escape(flags)}</span>")
    return f'<td{klass} data-col="{column}" data-sort="{len(cell.run.problems)}">{shown}</td>'


# --- plots ------------------------------------------------------------------------------


def bar_charts(board: Leaderboard) -> list[str]:
    """Per task, a horizontal bar per row for the task's first metric, with its interval."""
    charts = []
    for task in board.tasks:
        if not board.metrics[task]:
            continue
        metric = board.metrics[task][0]
        entries = [(index, row, row.cells[task].values[metric])
                   for index, row in enumerate(board.rows)
                   if task in row.cells and metric in row.cells[task].values]
        if not entries:
            continue
        top, bottom = 8, 34
        height = top + BAR_ROW * len(entries) + bottom
        width = LABEL_WIDTH + PLOT_WIDTH + 70
        parts = [f'<svg class="plot bars" data-task="{escape(task)}" '
                 f'data-metric="{escape(metric)}" width="{width}" height="{height}" '
                 f'viewBox="0 0 {width} {height}" role="img" '
                 f'aria-label="{escape(task)} {escape(metric)} by model">']
        axis_y = top + BAR_ROW * len(entries)
        for tick in range(0, 101, 20):
            x = _bar_x(tick)
            parts.append(f'<line class="grid" x1="{x:.1f}" y1="{top}" x2="{x:.1f}" '
                         f'y2="{axis_y}"/>')
            parts.append(f'<text x="{x:.1f}" y="{axis_y + 14}" text-anchor="middle">{tick}'
                         "</text>")
        parts.append(f'<line class="axis" x1="{LABEL_WIDTH}" y1="{axis_y}" '
                     f'x2="{LABEL_WIDTH + PLOT_WIDTH}" y2="{axis_y}"/>')
        parts.append(f'<text class="muted" x="{LABEL_WIDTH + PLOT_WIDTH / 2:.1f}" '
                     f'y="{axis_y + 29}" text-anchor="middle">{escape(metric)} (%)</text>')
        for slot, (index, row, value) in enumerate(entries):
            y = top + slot * BAR_ROW
            middle = y + BAR_ROW / 2
            label = row.label if len(row.label) <= 28 else row.label[:27] + "…"
            interval = (f" [{value.ci95[0]:.1f}, {value.ci95[1]:.1f}]"
                        if value.ci95 is not None else "")
            parts.append(f'<g class="entry" data-model="{escape(row.label)}">'
                         f"<title>{escape(row.label)}: {value.value:.1f}"
                         f"{escape(interval)}</title>")
            parts.append(f'<text x="{LABEL_WIDTH - 8}" y="{middle + 4:.1f}" '
                         f'text-anchor="end">{escape(label)}</text>')
            parts.append(f'<rect class="bar" x="{LABEL_WIDTH}" y="{y + 5}" '
                         f'width="{_bar_x(value.value) - LABEL_WIDTH:.1f}" height="{BAR_ROW - 10}" '
                         f'fill="{color(index)}"/>')
            end = value.value
            if value.ci95 is not None:
                low, high = _bar_x(value.ci95[0]), _bar_x(value.ci95[1])
                parts.append(f'<line class="whisker" x1="{low:.1f}" y1="{middle:.1f}" '
                             f'x2="{high:.1f}" y2="{middle:.1f}"/>')
                for x in (low, high):
                    parts.append(f'<line class="whisker" x1="{x:.1f}" y1="{middle - 5:.1f}" '
                                 f'x2="{x:.1f}" y2="{middle + 5:.1f}"/>')
                end = max(end, value.ci95[1])
            parts.append(f'<text x="{_bar_x(end) + 6:.1f}" y="{middle + 4:.1f}">'
                         f"{value.value:.1f}</text></g>")
        parts.append("</svg>")
        charts.append(f"<figure><figcaption>{escape(task)} · {escape(metric)}</figcaption>"
                      + "".join(parts) + "</figure>")
    return charts


def _bar_x(value: float) -> float:
    return LABEL_WIDTH + max(0.0, min(100.0, value)) / 100.0 * PLOT_WIDTH


def pass_k_charts(board: Leaderboard) -> list[str]:
    """Per task with several pass@k columns, one line per row over k (log scale)."""
    charts = []
    for task in board.tasks:
        ks = [k for m in board.metrics[task] if (k := parse_pass_k(m)) and m.startswith("pass@")]
        if len(ks) < 2:
            continue
        lines = []
        for index, row in enumerate(board.rows):
            cell = row.cells.get(task)
            if cell is None:
                continue
            points = [(k, cell.values[f"pass@{k}"].value) for k in ks
                      if f"pass@{k}" in cell.values]
            if len(points) >= 2:
                lines.append((index, row, points))
        if not lines:
            continue
        charts.append(_curve_chart(task, ks, lines))
    return charts


def _curve_chart(task: str, ks: list[int], lines: list[tuple[int, Row, list[tuple[int, float]]]]
                 ) -> str:
    left, top, plot_w, plot_h = 44, 10, 360, 220
    legend_x = left + plot_w + 24
    width = legend_x + 210
    height = max(top + plot_h + 40, top + 18 * len(lines) + 10)
    k_max = max(ks)

    def x_of(k: int) -> float:
        return left + (math.log(k) / math.log(k_max)) * plot_w if k_max > 1 else left

    def y_of(value: float) -> float:
        return top + (1 - max(0.0, min(100.0, value)) / 100.0) * plot_h

    parts = [f'<svg class="plot passk" data-task="{escape(task)}" width="{width}" '
             f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
             f'aria-label="{escape(task)} pass@k by model">']
    for tick in range(0, 101, 20):
        y = y_of(tick)
        parts.append(f'<line class="grid" x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" '
                     f'y2="{y:.1f}"/>')
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{tick}</text>')
    for k in ks:
        x = x_of(k)
        parts.append(f'<text x="{x:.1f}" y="{top + plot_h + 16}" text-anchor="middle">{k}</text>')
    parts.append(f'<line class="axis" x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" '
                 f'y2="{top + plot_h}"/>')
    parts.append(f'<text class="muted" x="{left + plot_w / 2}" y="{top + plot_h + 32}" '
                 'text-anchor="middle">k (log scale) · pass@k (%)</text>')
    for slot, (index, row, points) in enumerate(lines):
        coordinates = " ".join(f"{x_of(k):.1f},{y_of(v):.1f}" for k, v in points)
        parts.append(f'<g class="series" data-model="{escape(row.label)}">')
        parts.append(f'<polyline class="curve" stroke="{color(index)}" '
                     f'points="{coordinates}"/>')
        for k, value in points:
            parts.append(f'<circle cx="{x_of(k):.1f}" cy="{y_of(value):.1f}" r="3.5" '
                         f'fill="{color(index)}"><title>{escape(row.label)} pass@{k}: '
                         f"{value:.1f}</title></circle>")
        legend_y = top + 18 * slot + 8
        label = row.label if len(row.label) <= 28 else row.label[:27] + "…"
        parts.append(f'<rect x="{legend_x}" y="{legend_y - 8}" width="10" height="10" '
                     f'fill="{color(index)}"/><text x="{legend_x + 16}" y="{legend_y + 1}">'
                     f"{escape(label)}</text></g>")
    parts.append("</svg>")
    return (f"<figure><figcaption>{escape(task)} · pass@k</figcaption>" + "".join(parts)
            + "</figure>")
