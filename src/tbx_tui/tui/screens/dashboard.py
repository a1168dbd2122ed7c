"""The dashboard: runs, tags, curves and histograms of one MetricStore.

It reads the store on its own clock (a timer, a few times a second) and redraws a plot only
when what that plot shows changed: the store's version for the lists, each run's version
and the view settings for the plots. ``tbx-tui watch`` and a run trained in the app show
this same screen.
"""

from __future__ import annotations

import csv
import os
import time

import numpy as np
from rich.markup import escape
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static, Tree

from ...atomic import atomic_file, describe_os_error
from ...logs.series import DEFAULT_SMOOTHING
from ...logs.store import MetricStore
from ..widgets.curve_plot import CurveData, CurvePlot, legend_markup
from ..widgets.histogram_plot import MODES, HistogramPlot
from ..widgets.run_list import RunList
from ..widgets.tag_tree import TagTree
from .help import HelpScreen

PREFERRED = ("Loss/train", "loss", "Loss/test")
# Plots redraw at most this often: what a redraw costs the UI thread, times this factor,
# so the UI takes no more than ~3% of a core from a training run sharing the machine.
DUTY_FACTOR = 30.0
MIN_INTERVAL, MAX_INTERVAL = 0.5, 15.0


class DashboardScreen(Screen):
    BINDINGS = [
        Binding("space", "toggle_run", "Show run"),
        Binding("right_square_bracket", "smoothing(0.05)", "Smooth +", key_display="]"),
        Binding("left_square_bracket", "smoothing(-0.05)", "Smooth -", key_display="["),
        Binding("x", "toggle_x", "Step/time"),
        Binding("l", "toggle_log", "Log y"),
        Binding("h", "hist_mode", "Hist view"),
        Binding("e", "export", "Export CSV"),
        Binding("r", "refresh_now", "Reload"),
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("q", "app.quit", "Quit"),
    ]

    def __init__(self, store: MetricStore, title: str = "", watcher=None,
                 clock=time.time, tick: float = 0.25):
        super().__init__()
        self.store = store
        self.watcher = watcher
        self.title_text = title
        self.clock = clock
        self.tick = tick
        self.shown: set[str] = set()
        self.known: set[str] = set()
        self.scalar_tag: str | None = None
        self.hist_tag: str | None = None
        self.smoothing = DEFAULT_SMOOTHING
        self.by_time = False
        self.log_y = False
        self.hist_mode = MODES[0]
        self._seen_version = -1
        self._curve_sig = self._hist_sig = None
        self._status_text = ""
        self._next_plot = 0.0  # monotonic time before which new data does not redraw

    def compose(self) -> ComposeResult:
        with Horizontal():
            with Vertical(id="side"):
                yield RunList(id="runs")
                yield TagTree(id="tags")
            with Vertical(id="plots"):
                yield Static(id="legend")
                yield CurvePlot(id="curve", classes="plot")
                yield HistogramPlot(id="hist", classes="plot")
        yield Static(id="status")
        yield Footer()

    def on_mount(self) -> None:
        self.set_interval(self.tick, self.refresh_view)
        self.set_interval(1.0, self.tick_ages)  # states and ages follow the clock
        self.refresh_view()

    def tick_ages(self) -> None:
        """Re-judge every run's state and age by the clock, with no new data and without
        touching the plots (the run list updates only the cells that changed)."""
        try:
            with self.store.lock:
                self.query_one(RunList).sync(self.store.runs, self.shown, self.clock())
        except Exception as e:  # as refresh_view: nothing escapes a timer
            self.log.error("run list refresh failed", e)

    def on_resize(self) -> None:
        self.invalidate_plots()

    def invalidate_plots(self) -> None:
        """Redraw both plots on the next tick (size or colours changed)."""
        self._curve_sig = self._hist_sig = None
        if self.is_mounted:
            self._next_plot = 0.0
            self.call_after_refresh(self.refresh_view)

    # ---- reading the store -------------------------------------------------------------
    def refresh_view(self) -> None:
        """The timer's callback. Nothing may escape it: an exception here would end the
        app, and with it a run training on a thread of this process."""
        try:
            self._refresh_view()
        except Exception as e:
            self.log.error("dashboard refresh failed", e)
            self.set_status(Text(f"display error: {type(e).__name__}: {e} (the logs and "
                                 "any training run are unaffected)", style="bold red"))

    def _refresh_view(self) -> None:
        store, now = self.store, self.clock()
        with store.lock:
            if store.version != self._seen_version:
                self._seen_version = store.version
                self._sync_lists(now)
            now_m = time.monotonic()
            if now_m >= self._next_plot or self._curve_sig is None or self._hist_sig is None:
                drew = self._draw_curves() | self._draw_histogram()
                if drew:
                    cost = sum(w.build_seconds for w in self.query(".plot"))
                    self._next_plot = now_m + min(max(cost * DUTY_FACTOR, MIN_INTERVAL),
                                                  MAX_INTERVAL)
        self._status(now)

    def _sync_lists(self, now: float) -> None:
        runs = self.store.runs
        new = set(runs) - self.known
        self.shown |= new  # a run that appears is shown; the user may hide it
        self.known = set(runs)
        self.shown &= self.known
        self.query_one(RunList).sync(runs, self.shown, now)
        scalars = {t for r in runs.values() for t in r.scalars}
        hists = {t for r in runs.values() for t in r.histograms}
        self.query_one(TagTree).sync(scalars, hists)
        if self.scalar_tag not in scalars:
            self.scalar_tag = next((t for t in PREFERRED if t in scalars),
                                   min(scalars) if scalars else None)
        if self.hist_tag not in hists:
            self.hist_tag = min(hists) if hists else None

    def _draw_curves(self) -> bool:
        runs, tag = self.store.runs, self.scalar_tag
        names = [n for n in sorted(runs) if n in self.shown and tag in runs[n].scalars]
        sig = (tag, tuple((n, runs[n].version) for n in names), self.smoothing, self.by_time,
               self.log_y)
        if sig == self._curve_sig:
            return False
        self._curve_sig = sig
        order = sorted(runs)
        curves = []
        for name in names:
            series = runs[name].scalars[tag]
            x = (series.walls - series.walls[0]) if self.by_time and len(series) else series.steps
            curves.append((CurveData(name, order.index(name), np.array(x, dtype=np.float64),
                                     np.array(series.values)), series.generation))
        self.query_one(CurvePlot).draw(tag, curves, self.smoothing, self.by_time, self.log_y)
        self.query_one("#legend", Static).update(
            legend_markup([(c.run, c.index) for c, _ in curves]) or " ", layout=False)
        return True

    def _draw_histogram(self) -> bool:
        runs = self.store.runs
        name = self.query_one(RunList).current
        tag = self.hist_tag
        run = runs.get(name) if name else None
        if run is None or tag not in run.histograms:  # fall back to any run that has it
            name = next((n for n in sorted(runs) if tag in runs[n].histograms), None)
            run = runs.get(name) if name else None
        sig = (name, tag, run.version if run else None, self.hist_mode)
        if sig == self._hist_sig:
            return False
        self._hist_sig = sig
        points = list(run.histograms.get(tag, [])) if run else []
        index = sorted(runs).index(name) if name else 0
        self.query_one(HistogramPlot).draw(name, tag, points, self.hist_mode, index)
        return True

    def redraw_now(self) -> None:
        """A user asked for a different view: no throttling for that."""
        self._next_plot = 0.0
        self.refresh_view()

    def _status(self, now: float) -> None:
        runs = self.store.runs
        bad = sum(r.bad for r in runs.values())
        parts = [escape(self.title_text), f"{len(runs)} run(s)", f"smoothing {self.smoothing:.2f}",
                 f"x: {'time' if self.by_time else 'step'}",
                 f"y: {'log' if self.log_y else 'linear'}", f"hist: {self.hist_mode}"]
        if bad:
            parts.append(f"skipped records: {bad}")
        troubled = sum(bool(r.problems) for r in runs.values())
        if troubled:
            parts.append(f"[b]{troubled} run(s) not fully readable[/] (problem column)")
        if self.watcher is not None and self.watcher.error:
            parts.append(f"error: {escape(self.watcher.error)}")
        if not runs:
            parts.append("waiting for event files…")
        self.set_status("  ·  ".join(p for p in parts if p))

    def set_status(self, text: str | Text) -> None:
        """Fixed-size line: no layout pass (a layout pass re-renders every widget)."""
        if text != self._status_text:
            self._status_text = text
            self.query_one("#status", Static).update(text, layout=False)

    # ---- events and actions ------------------------------------------------------------
    def on_tree_node_selected(self, event: Tree.NodeSelected) -> None:
        if event.node.data is None:
            return
        tag, kind = event.node.data
        if kind == "scalar":
            self.scalar_tag = tag
        else:
            self.hist_tag = tag
        self.redraw_now()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.redraw_now()

    def action_toggle_run(self) -> None:
        name = self.query_one(RunList).current
        if name is None:
            return
        self.shown ^= {name}
        self._seen_version = -1  # re-sync the ● column
        self.redraw_now()

    def action_smoothing(self, delta: float) -> None:
        self.smoothing = round(min(max(self.smoothing + delta, 0.0), 0.99), 2)
        self.redraw_now()

    def action_toggle_x(self) -> None:
        self.by_time = not self.by_time
        self.redraw_now()

    def action_toggle_log(self) -> None:
        self.log_y = not self.log_y
        self.redraw_now()

    def action_hist_mode(self) -> None:
        self.hist_mode = MODES[(MODES.index(self.hist_mode) + 1) % len(MODES)]
        self.redraw_now()

    def action_refresh_now(self) -> None:
        if self.watcher is not None:
            self.watcher.poll_now()

    def action_help(self) -> None:
        about = ("tbx-tui dashboard: curves of the selected scalar tag for every shown run "
                 "(raw faint, smoothed bright), and the selected histogram of the "
                 "highlighted run.")
        # The screen's keys, then the app's (t: theme), each once.
        keys = {b.key: b for b in [*self.BINDINGS, *self.app.BINDINGS] if b.show}
        self.app.push_screen(HelpScreen(list(keys.values()), about))

    def action_export(self) -> None:
        name = self.query_one(RunList).current
        if name is None:
            self.notify("no run to export", severity="warning")
            return
        try:  # into the run's own folder, beside its event files
            path = export_csv(self.store, name, self.store.runs[name].path or os.getcwd())
        except OSError as e:
            self.notify(f"export failed: {describe_os_error(e)}", severity="error")
            return
        self.notify(f"exported {name} to {path}")


def export_csv(store: MetricStore, run_name: str, folder: str) -> str:
    """Every scalar point of one run (not the downsampled ones), written atomically."""
    with store.lock:
        run = store.runs[run_name]
        columns = [(tag, s.steps.copy(), s.walls.copy(), s.values.copy())
                   for tag, s in sorted(run.scalars.items())]
    path = os.path.join(folder, run_name.replace("/", "_") + "-scalars.csv")
    with atomic_file(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["tag", "step", "wall_time", "value"])
        for tag, steps, walls, values in columns:
            w.writerows(zip([tag] * len(steps), steps.tolist(), walls.tolist(),
                            [repr(v) for v in values.tolist()]))
    return path
