"""The chart grid: several charts at once, each with its own tag and view, as many as the
terminal holds (``grid_state.grid_shape``); one is selected (keys act on it), one can be
zoomed to the whole grid. Cells are kept per chart, so a chart's caches (its smoothing
state, its last drawing) survive a rearrangement."""

from __future__ import annotations


from textual.containers import Container
from textual.markup import escape

from ..grid_state import ChartSpec, grid_shape, window
from ..widgets.curve_plot import CurveData, CurvePlot
from ..widgets.histogram_plot import HistogramPlot
from . import Panel, PanelContext
from .cell import Cell, run_having
from .confusion import ConfusionChart
from .grad_flow import GradFlowChart
from .image_view import ImageChart
from .pr_chart import PRChart
from .structure_view import StructureChart


class CurveChart(Cell, CurvePlot):

    def update_chart(self, ctx: PanelContext) -> bool:
        spec, runs = self.spec, ctx.runs
        names = [n for n in sorted(runs) if n in ctx.shown and spec.tag in runs[n].scalars]
        sig = (spec.tag, tuple((n, runs[n].version, ctx.colours[n]) for n in names),
               ctx.smoothing, ctx.by_time, spec.log_y, self.size)
        if sig == self._sig:
            return False
        self._sig = sig
        curves = []
        for name in names:  # views, not copies: drawn under the store's lock
            s = runs[name].scalars[spec.tag]
            x0 = float(s.walls[0]) if ctx.by_time and len(s) else 0.0
            curves.append((CurveData(name, ctx.colours[name],
                                     s.walls if ctx.by_time else s.steps, s.values, x0),
                           s.generation))
        # A border title is markup: the tag (anyone's text) is escaped into it.
        self.set_title(f"{escape(spec.tag)} · smoothing {ctx.smoothing:.2f} · "
                       f"{'log' if spec.log_y else 'linear'} y")
        self.draw(spec.tag, curves, ctx.smoothing, ctx.by_time, spec.log_y, titled=False)
        return True


class HistogramChart(Cell, HistogramPlot):

    def update_chart(self, ctx: PanelContext) -> bool:
        spec, runs = self.spec, ctx.runs
        name = run_having(ctx, lambda r: spec.tag in r.histograms)
        run = runs.get(name) if name else None
        sig = (name, spec.tag, run.version if run else None, spec.mode, self.size,
               ctx.labels.get(name))
        if sig == self._sig:
            return False
        self._sig = sig
        points = list(run.histograms.get(spec.tag, [])) if run else []
        label = ctx.labels.get(name, name) if name else None
        step = f" step {points[-1].step}" if points and spec.mode == "latest" else ""
        self.set_title(f"{escape(spec.tag)} · {escape(label)} · {spec.mode}{step}"
                       if label else escape(spec.tag))
        self.draw(label, spec.tag, points, spec.mode, ctx.colours.get(name, 0), titled=False)
        return True


CELLS = {"scalar": CurveChart, "histogram": HistogramChart, "confusion": ConfusionChart,
         "pr": PRChart, "image": ImageChart, "gradflow": GradFlowChart,
         "structure": StructureChart}


class ChartGrid(Panel, Container):
    """``specs``: every chart chosen; ``selected``: the index keys act on."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.specs: list[ChartSpec] = []
        self.selected = 0
        self.zoomed = False
        self._cells: dict[str, Cell] = {}
        self._arranged: tuple = ()
        self.behind = False  # the last sync drew a chart and left others to look at
        self.chosen = False  # the user selected a chart (keys, a click, a pin, a saved view)

    @property
    def current(self) -> ChartSpec | None:
        return self.specs[self.selected] if self.specs else None

    @property
    def visible(self) -> list[ChartSpec]:
        if self.zoomed and self.current:
            return [self.current]
        shown, _, _ = grid_shape(len(self.specs), self.size.width, self.size.height)
        return [self.specs[i] for i in window(len(self.specs), shown, self.selected)]

    def set_specs(self, specs: list[ChartSpec], selected: int | None = None) -> None:
        # Until the user picks a chart, the first stays selected: a view that came before
        # the curves (the module tree, at step 0) would else keep the selection, and the
        # grid its page, once the curves arrive.
        keep = self.current.key if self.current and self.chosen else None
        self.specs = list(specs)
        keys = [s.key for s in self.specs]
        if selected is not None:
            self.chosen = True
        self.selected = selected if selected is not None else \
            keys.index(keep) if keep in keys else 0
        self.selected = min(max(self.selected, 0), max(len(self.specs) - 1, 0))
        self.arrange_cells()

    def select(self, index: int) -> None:
        self.chosen = True
        if self.specs:
            self.selected = index % len(self.specs)
            self.arrange_cells()

    def select_spec(self, spec: ChartSpec) -> None:
        if spec in self.specs:
            self.select(self.specs.index(spec))

    def on_resize(self) -> None:
        self.arrange_cells()

    def arrange_cells(self) -> None:
        """Mount the cells of the charts that fit (grid_state.grid_shape). Called from
        keys and resizes, outside the panel's update: so it stops its own errors."""
        if not self.is_mounted:
            return
        try:
            self._arrange()
        except Exception as e:
            self.panel_error = f"{type(e).__name__}: {e}"
            self.log.error("chart grid arrangement failed", e)

    def _arrange(self) -> None:
        specs = self.visible
        n, cols, rows = (1, 1, 1) if self.zoomed else grid_shape(
            len(specs), self.size.width, self.size.height)
        sel = self.current.key if self.current else None
        layout = (tuple(s.key for s in specs), cols, rows)
        if layout == self._arranged:  # the same cells: only the selection may have moved
            for spec in specs:
                cell = self._cells[spec.key]
                cell.spec = spec
                cell.set_class(spec.key == sel and len(self.specs) > 1, "-selected")
            return
        self._arranged = layout
        self.styles.grid_size_columns, self.styles.grid_size_rows = cols, max(rows, 1)
        # Fresh cells in the new order (a removed widget cannot be mounted again); each
        # takes over its predecessor's smoothing state, so the rearrangement costs a draw.
        old = self._cells
        self._cells = {}
        cells = []
        for spec in specs:
            cell = CELLS.get(spec.kind, CurveChart)(spec)
            if spec.key in old and hasattr(old[spec.key], "cache"):
                cell.cache = old[spec.key].cache
            cell.set_class(spec.key == sel and len(self.specs) > 1, "-selected")
            self._cells[spec.key] = cell
            cells.append(cell)
        self.remove_children()
        if cells:
            self.mount(*cells)

    # A grid's charts are built one after another on the UI thread (~10-60 ms each at
    # 200x60, more beside a training thread): one chart a call, the selected one first,
    # so a key pressed meanwhile waits for one chart at most and each chart is shown as
    # it is drawn. (Up to 30 ms of charts a call made a key's p95 231-254 ms at 200x60
    # while training; one a call, 118-186 ms: bench_keys.py.)
    def sync_panel(self, ctx: PanelContext) -> bool:
        self.behind = False
        cells = [c for c in self.children if isinstance(c, Cell)]
        cells.sort(key=lambda c: not c.has_class("-selected"))  # the one keys act on first
        for i, cell in enumerate(cells):
            if cell.update_chart(ctx):
                self.behind = i + 1 < len(cells)  # the rest: next call (their sigs)
                return True
        return False
