"""The confusion-matrix view: a heatmap of one evaluation's counts (rows: the true class,
columns: the predicted one; each cell shaded by its share of the row, right answers in the
theme's primary colour and mistakes in its error colour) beside the per-class precision,
recall, F1 and support computed from the same counts. It follows the newest evaluation or
shows a chosen step (``,`` and ``.``). Classes that do not fit are the ones with the fewest
errors; ``z`` gives the view the whole grid."""

from __future__ import annotations

import numpy as np
from rich.style import Style
from rich.text import Text
from textual.color import Color
from textual.widgets import Static

from ...logs.evaluation import class_label, most_confused, per_class
from . import PanelContext
from .cell import SizedCell

GAP = 3  # columns between the matrix and the table


class ConfusionChart(SizedCell, Static):

    def update_chart(self, ctx: PanelContext) -> bool:
        self.remember(ctx)
        spec = self.spec
        name, points, point = self.newest(ctx, "matrices")
        # The points, not the run's version: that changes with every scalar, and a
        # Static's update repaints all of it (the bytes sent over SSH).
        sig = (name, spec.tag, id(point), len(points), self.size, self.app.theme,
               ctx.labels.get(name))
        if sig == self._sig:
            return False
        self._sig = sig
        self.title_view(ctx, name, spec.tag, [p.step for p in points])
        if point is None:
            self.update(Text(f"{spec.tag}: no evaluation yet"), layout=False)
        else:
            # layout=False: the cell's size is the grid's, not its content's; a layout
            # pass re-renders every widget on the screen (keys waited behind it).
            self.update(self.render_matrix(point.array, point.classes), layout=False)
        return True

    def _colours(self) -> tuple[Color, Color, Color, Color]:
        theme = self.app.get_theme(self.app.theme)
        v = theme.to_color_system().generate() if theme else self.app.theme_variables
        get = lambda k, d: Color.parse(v.get(k, d))  # noqa: E731
        return (get("surface", "#1e1e1e"), get("primary", "#0178d4"), get("error", "#ba3c5b"),
                get("foreground", "#e0e0e0"))

    def render_matrix(self, matrix: np.ndarray, classes: tuple[str, ...]) -> Text:
        m = np.asarray(matrix, dtype=np.int64)
        n = len(m)
        names = classes or tuple(str(i) for i in range(n))
        labels = [class_label(names, i) for i in range(n)]
        width, height = max(self.size.width, 20), max(self.size.height, 3)
        cell = max(len(f"{int(m.max()) if m.size else 0:,}"), len(str(n - 1)), 2) + 1
        label_w = min(max(len(x) for x in labels), 14)
        table_w = label_w + 27
        beside = width >= label_w + 2 + cell * min(n, 10) + GAP + table_w
        room_w = (width - table_w - GAP if beside else width) - label_w - 2
        room_h = height - 2  # the matrix first; the table gets the rows it leaves
        fits = max(min(room_w // cell, room_h), 1)
        shown = list(range(n)) if n <= fits else most_confused(m, fits)
        left = self._heatmap(m, shown, labels, label_w, cell)
        rows = per_class(m)
        order = list(range(n))
        table_rows = height - 1 if beside else max(height - len(left) - 3, 0)
        note = ""
        if n > table_rows:  # what does not fit: the worst classes first
            order = sorted(order, key=lambda i: rows[i][2])[:max(table_rows - 1, 0)]
            note = f"{n - len(order)} more classes (lowest F1 shown first)"
        right = [Text(f"{'class':<{label_w}}  precision  recall     F1  support", style="bold")]
        for i in order:
            p, r, f, support = rows[i]
            right.append(Text(f"{labels[i][:label_w]:<{label_w}}  {p:>9.3f}  {r:>6.3f}  "
                              f"{f:>5.3f}  {support:>7,}"))
        if note:
            right.append(Text(note, style="italic"))
        notes = [Text(f"{len(shown)} of {n} classes: those with the most errors (z: zoom)",
                      style="italic")] if len(shown) < n else []
        if not beside:
            if table_rows < 1:
                notes.append(Text("per-class table: z to zoom", style="italic"))
                right = []
            lines = [*left, *notes, *([Text(""), *right] if right else [])]
        else:
            pad = max(x.cell_len for x in left) + GAP
            lines = []
            for k in range(max(len(left), len(right))):
                a = left[k].copy() if k < len(left) else Text("")
                a.pad_right(pad - a.cell_len)
                lines.append(a + (right[k] if k < len(right) else Text("")))
            lines += notes
        out = Text("\n").join(lines[:height])
        out.no_wrap, out.overflow = True, "crop"  # a line too long is cut, never wrapped
        return out

    def _heatmap(self, m, shown, labels, label_w, cell) -> list[Text]:
        surface, primary, error, fg = self._colours()
        totals = m.sum(1)
        head = Text(" " * (label_w + 2) + "".join(f"{i:>{cell}}" for i in shown),
                    style="bold")
        lines = [head]
        for i in shown:
            line = Text(f"{labels[i][:label_w]:<{label_w}}  ", style="bold")
            for j in shown:
                share = m[i, j] / totals[i] if totals[i] else 0.0
                tone = primary if i == j else error
                bg = surface.blend(tone, min(0.15 + 0.85 * share, 1.0)) if m[i, j] else surface
                text = fg if bg.brightness < 0.6 else Color(0, 0, 0)
                line.append(f"{int(m[i, j]):>{cell},}",
                            Style(color=text.rich_color, bgcolor=bg.rich_color))
            lines.append(line)
        return lines
