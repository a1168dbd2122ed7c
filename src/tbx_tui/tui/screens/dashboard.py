"""The dashboard: a side panel (run table, tag tree) and the chart grid, over one
MetricStore.

It reads the store on its own clock (a timer, a few times a second) and hands each panel
one ``PanelContext``; a chart redraws only when what it shows changed (its runs' versions,
its view, its size). ``tbx-tui watch`` and a run trained in the app show this same screen.
"""

from __future__ import annotations

import csv
import dataclasses
import os
import time

from rich.markup import escape
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Static, Tree
from textual.widgets import DataTable

from ...atomic import atomic_file, describe_os_error
from ...logs.labels import run_labels
from ...logs.series import DEFAULT_SMOOTHING
from ...logs.store import MetricStore
from .. import heap
from ...logs import evaluation
from ..grid_state import STEPPED, VIEW_KINDS, ChartSpec, ViewSaver, default_specs, load_view
from ..panels import PanelContext
from ..panels.chart_grid import ChartGrid
from ..panels.run_table import RunTable
from ..panels.samples import SamplesPanel
from ..panels.system import SystemPanel
from ..widgets.curve_plot import legend_markup
from ..widgets.histogram_plot import MODES
from ..widgets.status_line import fit_parts
from ..widgets.tag_tree import TagTree
from .help import HelpScreen, help_keys

# New data redraws the charts at most once per (cost of the last redraw / UI_BUDGET of
# one core; 10% for `watch`, 3% beside a run training in the same process):
# the cost is all the CPU the UI thread used from the redraw to the next tick
# (time.thread_time) — our drawing, plotext, and Textual's compositing of the result
# alike. Counting only plotext's build time let a grid of eight charts take a quarter
# of the speed of a run training in the same process.
UI_BUDGET = 0.10
MIN_INTERVAL, MAX_INTERVAL = 0.5, 15.0
CHUNK_GAP = 1 / 50  # between a redraw's chunks: a frame (Textual's 60 fps) goes out first


# Keys a focused widget never takes (letters and signs: the tag tree and run table use
# arrows, enter and space) act when the app receives them (priority bindings), not after
# the event has been forwarded to the focused widget and bubbled back up through each of
# its ancestors' message queues: behind a grid redraw, each hop waited for a chunk, and a
# key reached its action 100 ms after the app had it (200x60, training).
_WIDGET_KEYS = {"space", "enter", "up", "down", "left", "right", "home", "end", "pageup",
                "pagedown", "tab", "shift+tab", "escape"}


def acting_first(bindings: list) -> list:
    return [dataclasses.replace(b, priority=True)
            if isinstance(b, Binding) and not set(b.key.split(",")) & _WIDGET_KEYS else b
            for b in bindings]


class DashboardScreen(Screen):
    UI_BUDGET = UI_BUDGET
    # Footer labels are short (80 columns); the help and the palette show the tooltip.
    # show=False: in the help and the command palette only.
    BINDINGS = acting_first([
        Binding("space", "toggle_run", "Show", tooltip="show / hide the highlighted run"),
        Binding("c", "next_chart", "Chart", tooltip="select the next chart"),
        Binding("z", "zoom", "Zoom", tooltip="the selected chart to the whole grid, and back"),
        Binding("u", "unpin", "Unpin", show=False, tooltip="take the selected chart off the "
                "grid (enter on a tag in the tag tree pins one)"),
        Binding("g", "default_grid", "Default grid", show=False,
                tooltip="the default charts again"),
        Binding("right_square_bracket", "smoothing(0.05)", "Smooth +", key_display="]",
                show=False, tooltip="more smoothing (every chart)"),
        Binding("left_square_bracket", "smoothing(-0.05)", "Smooth -", key_display="[",
                show=False, tooltip="less smoothing (every chart)"),
        Binding("x", "toggle_x", "Step/time", show=False,
                tooltip="x axis: step or wall time (every chart)"),
        Binding("l", "toggle_log", "Log y", show=False,
                tooltip="log / linear y scale of the selected chart"),
        Binding("h", "hist_mode", "Hist view", show=False, tooltip="histogram chart: "
                "latest, overlay of several steps, distribution over steps"),
        Binding("comma", "step(-1)", "Earlier", key_display=",", show=False,
                tooltip="evaluation views (confusion, PR, images, gradient flow): an "
                "earlier step"),
        Binding("full_stop", "step(1)", "Later", key_display=".", show=False,
                tooltip="evaluation views: a later step; past the newest, follow new ones"),
        Binding("b", "toggle_side", "Side", tooltip="fold / unfold the side panel"),
        Binding("H", "hparams", "HParams", tooltip="HParams view: every run's "
                "hyperparameters and final metrics; sort, filter, choose, diff"),
        Binding("w", "sweep", "Sweep", show=False, tooltip="sweep view: parallel "
                "coordinates, best so far, importance (a sweep folder's runs)"),
        Binding("e", "export", "Export CSV", show=False,
                tooltip="every scalar of the highlighted run, into its folder"),
        Binding("r", "refresh_now", "Reload", show=False, tooltip="read the files now"),
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("q", "app.quit", "Quit"),
    ])

    def __init__(self, store: MetricStore, title: str = "", watcher=None,
                 clock=time.time, tick: float = 0.25, layout_key: str | None = None):
        super().__init__()
        self.store = store
        self.watcher = watcher
        self.title_text = title
        self.clock = clock
        self.tick = tick
        self.layout_key = layout_key
        self.shown: set[str] = set()
        self.known: set[str] = set()
        self.labels: dict[str, str] = {}
        self.smoothing = DEFAULT_SMOOTHING
        self.by_time = False
        self.user_charts = False  # the user pinned/unpinned: the grid no longer follows tags
        self._tags: tuple = (set(), set(), [])
        self._seen_version = -1
        self._status_text = ""
        self._legend_text: str | None = None
        self._force = True  # the user asked for a view, or the size changed: draw now
        self._next_plot = 0.0      # monotonic time before which new data does not redraw
        self._measuring = None     # (monotonic, UI thread CPU) when the last redraw began
        self._pace = 0.0           # seconds between redraws that the budget allows
        self._saved_ok = True
        self._saver = ViewSaver(self._save_failed)
        self._chunk_timer = None   # the pending next chunk of a redraw
        self._chunk_turn = False   # this call draws it (the chunk's timer, or a key)

    def compose(self) -> ComposeResult:
        with Horizontal():
            with Vertical(id="side"):
                yield RunTable(id="runs")
                yield SystemPanel(id="system")
                yield TagTree(id="tags")
            with Vertical(id="plots"):
                yield Static(id="legend")
                yield ChartGrid(id="grid")
                yield SamplesPanel(id="samples")
        yield Static(id="status")
        yield Footer(compact=True, show_command_palette=False)  # ctrl+p: in the help

    def on_unmount(self) -> None:
        self._saver.flush()  # the last view reaches the file before the app ends

    def on_mount(self) -> None:
        heap.settle()  # Textual, the log reader and the first files are loaded by now
        self._restore_view()
        self.set_interval(self.tick, self.refresh_view)
        self.set_interval(1.0, self.tick_ages)  # states and ages follow the clock
        self.refresh_view()

    # ---- the grid's view, kept per log directory ---------------------------------------
    def _restore_view(self) -> None:
        view, problem = load_view(self.layout_key) if self.layout_key else ({}, None)
        if problem:
            self.notify(problem, severity="warning")
        if view.get("smoothing") is not None:
            self.smoothing = round(view["smoothing"], 2)
        self.by_time = view.get("by_time", False)
        if view.get("side") is False:
            self.query_one("#side").display = False
        if view.get("charts"):
            self.user_charts = True
            self.grid.set_specs(view["charts"], selected=int(view.get("selected", 0)))
        self.grid.zoomed = view.get("zoomed", False)

    def save_view(self) -> None:
        if not self.layout_key:
            return
        self._saver.save(self.layout_key, self.grid.specs if self.user_charts else None,
                         smoothing=self.smoothing, by_time=self.by_time,
                         side=bool(self.query_one("#side").display), zoomed=self.grid.zoomed,
                         selected=self.grid.selected)

    def _save_failed(self, e: OSError) -> None:
        """On the saver's thread."""
        if self._saved_ok:  # once, not at every key
            self._saved_ok = False
            try:
                self.app.call_from_thread(
                    self.notify, f"the chart layout is not kept: {describe_os_error(e)}",
                    severity="warning")
            except RuntimeError:  # the app has ended meanwhile
                pass

    @property
    def grid(self) -> ChartGrid:
        return self.query_one(ChartGrid)

    # ---- reading the store -------------------------------------------------------------
    def visible_runs(self) -> dict:
        """The runs on this dashboard: every run its store holds (the app's watcher reads
        the logdir's earlier runs only when asked)."""
        return self.store.runs

    def context(self, now: float) -> PanelContext:
        return PanelContext(self.visible_runs(), self.shown, self.labels,
                            self.query_one(RunTable).current, now, self.smoothing,
                            self.by_time)

    def tick_ages(self) -> None:
        """Re-judge every run's state and age by the clock, with no new data and without
        touching the plots (the run table updates only the cells that changed)."""
        try:
            with self.store.lock:
                self.query_one(RunTable).update_panel(self.context(self.clock()))
        except Exception as e:  # as refresh_view: nothing escapes a timer
            self.log.error("run table refresh failed", e)

    def on_resize(self) -> None:
        self.invalidate_plots()

    def invalidate_plots(self) -> None:
        """Redraw every chart on the next tick (size or colours changed)."""
        if self.is_mounted:
            for cell in self.grid.children:
                cell._sig = None
            self._force = True
            self._seen_version = -1  # the legend and the table refit too
            self.call_after_refresh(self.refresh_view)

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
            changed = store.version != self._seen_version
            if changed:
                self._sync_lists()
            ctx = self.context(now)
            if changed:
                self.query_one(RunTable).update_panel(ctx)
                if self._legend(ctx):  # only once all of it worked: else again
                    self._seen_version = store.version
            self.query_one(SystemPanel).update_panel(ctx)  # redraws only what changed
            self.query_one(SamplesPanel).update_panel(ctx)
            now_m, cpu = time.monotonic(), time.thread_time()
            # The last redraw, its compositing included, and all its chunks: measured
            # from its first chunk to the tick after its last.
            if self._measuring is not None and not self.grid.behind:
                t0, c0 = self._measuring
                self._measuring = None
                self._pace = min(max((cpu - c0) / self.UI_BUDGET, MIN_INTERVAL), MAX_INTERVAL)
                self._next_plot = t0 + self._pace
            # While a redraw's next chunk waits for its turn, the ticks leave it be: a
            # tick drawing it too put two chunks back to back, with no frame between.
            if (self._force or now_m >= self._next_plot) and (
                    self._chunk_timer is None or self._chunk_turn):
                self._force = False
                if self.grid.update_panel(ctx) and self._measuring is None:
                    self._measuring = (now_m, cpu)
                    self._next_plot = now_m + MAX_INTERVAL  # until measured
                if self.grid.behind:  # the rest of the grid after a frame and any key
                    self._force = True
                    self._chunk_later()
        self._status(now)

    def _chunk_later(self) -> None:
        """The redraw's next chunk after a frame. A timer, not call_after_refresh: that
        ran the next chunk before the chart just drawn had asked for its repaint, so a
        key's chart reached the terminal only with the whole grid (160 ms later, 200x60)."""
        if self._chunk_timer is not None:
            self._chunk_timer.stop()
        self._chunk_timer = self.set_timer(CHUNK_GAP, self._next_chunk)

    def _next_chunk(self) -> None:
        self._chunk_timer = None
        self._chunk_turn = True
        try:
            self.refresh_view()
        finally:
            self._chunk_turn = False

    def _sync_lists(self) -> None:
        runs = self.visible_runs()
        new = set(runs) - self.known
        self.shown |= new  # a run that appears is shown; the user may hide it
        self.known = set(runs)
        self.shown &= self.known
        self.labels = run_labels({n: r.hparams for n, r in runs.items()})
        scalars = {t for r in runs.values() for t in r.scalars}
        hists = {t for r in runs.values() for t in r.histograms}
        found = [v for r in runs.values() for v in evaluation.views(r)]
        views = sorted(set(found), key=lambda v: (VIEW_KINDS.index(v[0]), v[1]))
        self.query_one(TagTree).sync(scalars, hists, views)
        if (scalars, hists, views) != self._tags:
            self._tags = (scalars, hists, views)
            if not self.user_charts:
                self.grid.set_specs(default_specs(scalars, hists, self.grid.specs, views))

    def _legend(self, ctx: PanelContext) -> bool:
        names = [n for n in sorted(ctx.runs) if n in ctx.shown]
        legend = self.query_one("#legend")
        if not legend.size.width:  # not laid out yet: the next tick draws it
            return False
        width = legend.size.width - 2
        entries, used = [], 0
        for i, name in enumerate(names):
            label = ctx.labels.get(name, name)
            more = len(names) - i - 1
            entry = len(label) + 2 + (3 if entries else 0)  # "■ label", "   " between
            if used + entry + (len(f"   +{more} more") if more else 0) > width and entries:
                break
            entries.append((label, ctx.colours[name]))
            used += entry
        text = legend_markup(entries)
        if len(entries) < len(names):  # never cut silently: the rest are in the run table
            text += f"   [b]+{len(names) - len(entries)} more[/]"
        if text != self._legend_text:  # an equal update still repaints the line
            self._legend_text = text
            self.query_one("#legend", Static).update(text or " ", layout=False)
        return True

    def redraw_now(self) -> None:
        """A user asked for a different view: no throttling for that. The selected chart
        is drawn and shown first, the others after (ChartGrid.sync_panel)."""
        self._force = True
        self._chunk_turn = True  # ahead of a pending chunk, which then waits a frame
        try:
            self.refresh_view()
        finally:
            self._chunk_turn = False

    def status_parts(self, now: float) -> list[tuple[int, str]]:
        """(priority, markup): the lowest numbers survive a narrow terminal."""
        runs = self.visible_runs()
        grid = self.grid
        parts = [(3, escape(self.title_text)), (1, f"{len(runs)} run(s)")]
        if grid.specs:
            shown = len(grid.visible)
            first = grid.specs.index(grid.visible[0]) + 1 if shown else 0
            where = "zoomed" if grid.zoomed else (
                f"charts {first}-{first + shown - 1} of {len(grid.specs)}"
                if shown < len(grid.specs) else f"{len(grid.specs)} charts")
            parts.append((2, f"{where} · x: {'time' if self.by_time else 'step'}"))
        bad = sum(r.bad for r in runs.values())
        if bad:
            parts.append((1, f"skipped records: {bad}"))
        if not runs:
            parts.append((0, "waiting for event files…"))
        return parts

    def problem_parts(self) -> list[tuple[int, str]]:
        """What is wrong, on either dashboard: unreadable runs, the watcher, a panel."""
        parts = []
        troubled = sum(bool(r.problems) for r in self.visible_runs().values())
        if troubled:
            parts.append((0, f"[b]{troubled} run(s) not fully readable[/] (problem column)"))
        if self.watcher is not None and self.watcher.error:
            parts.append((0, f"error: {escape(self.watcher.error)}"))
        for panel in (self.grid, self.query_one(RunTable), self.query_one(SystemPanel),
                      self.query_one(SamplesPanel)):
            if panel.panel_error:
                parts.append((0, f"[b red]display error:[/] {escape(panel.panel_error)}"))
        return parts

    def _status(self, now: float) -> None:
        width = self.query_one("#status").size.width - 2
        self.set_status(fit_parts(self.status_parts(now) + self.problem_parts(), width))

    def set_status(self, text: str | Text) -> None:
        """One line, updated with no layout pass (that would re-render every widget);
        a failure's message may take more lines, and only then is there one."""
        if text != self._status_text:
            self._status_text = text
            status = self.query_one("#status", Static)
            plain = text.plain if isinstance(text, Text) else Text.from_markup(text).plain
            lines = min(-(-len(plain) // max(status.size.width - 2, 10)), 4)
            status.update(text, layout=lines != status.size.height)

    # ---- events and actions ------------------------------------------------------------
    def on_tree_node_selected(self, event: Tree.NodeSelected) -> None:
        """Enter on a tag: its chart is selected, pinned to the grid if it was not there."""
        if event.node.data is None:
            return
        tag, kind = event.node.data
        spec = ChartSpec(tag, kind)
        specs = self.grid.specs
        keys = [s.key for s in specs]
        if spec.key in keys:
            self.grid.select(keys.index(spec.key))
        else:
            at = self.grid.selected + 1 if specs else 0
            self.user_charts = True
            self.grid.set_specs([*specs[:at], spec, *specs[at:]], selected=at)
        self.save_view()
        self.redraw_now()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.redraw_now()

    def action_toggle_run(self) -> None:
        name = self.query_one(RunTable).current
        if name is None:
            return
        self.shown ^= {name}
        self._seen_version = -1  # re-sync the ● column and the legend
        self.redraw_now()

    def action_next_chart(self) -> None:
        self.grid.select(self.grid.selected + 1)
        self.save_view()
        self.redraw_now()

    def action_zoom(self) -> None:
        self.grid.zoomed = not self.grid.zoomed
        self.grid.arrange_cells()
        self.save_view()
        self.redraw_now()

    def action_unpin(self) -> None:
        grid = self.grid
        if not grid.specs:
            return
        self.user_charts = True
        specs = [s for i, s in enumerate(grid.specs) if i != grid.selected]
        grid.set_specs(specs, selected=min(grid.selected, len(specs) - 1))
        self.notify("chart unpinned: Enter on a tag in the tag tree pins one, g restores "
                    "the default grid", timeout=4)
        self.save_view()
        self.redraw_now()

    def action_default_grid(self) -> None:
        self.user_charts = False
        self.grid.zoomed = False
        scalars, hists, views = self._tags
        self.grid.set_specs(default_specs(scalars, hists, self.grid.specs, views), selected=0)
        self.save_view()
        self.redraw_now()

    def action_smoothing(self, delta: float) -> None:
        self.smoothing = round(min(max(self.smoothing + delta, 0.0), 0.99), 2)
        self.save_view()
        self.redraw_now()

    def action_toggle_x(self) -> None:
        self.by_time = not self.by_time
        self.save_view()
        self.redraw_now()

    def _chart(self, kind: str) -> ChartSpec | None:
        """The selected chart if it is of ``kind``, else the first such chart."""
        grid = self.grid
        if grid.current is not None and grid.current.kind == kind:
            return grid.current
        return next((s for s in grid.visible if s.kind == kind), None)

    def action_toggle_log(self) -> None:
        spec = self._chart("scalar")
        if spec is not None:
            spec.log_y = not spec.log_y
            self.save_view()
            self.redraw_now()

    def action_hist_mode(self) -> None:
        spec = self._chart("histogram")
        if spec is None:
            self.notify("no histogram chart: Enter on a ▤ tag in the tag tree adds one",
                        severity="warning")
            return
        spec.mode = MODES[(MODES.index(spec.mode) + 1) % len(MODES)]
        self.save_view()
        self.redraw_now()

    def action_step(self, delta: int) -> None:
        spec = next((s for s in ([self.grid.current] if self.grid.current else [])
                     if s.kind in STEPPED), None) or \
            next((s for s in self.grid.visible if s.kind in STEPPED), None)
        if spec is None:
            self.notify("no evaluation view on the grid: confusion, PR, image and gradient "
                        "flow charts have steps", severity="warning")
            return
        with self.store.lock:
            steps = evaluation.view_steps(self.visible_runs().values(), spec.kind, spec.tag)
        spec.step = evaluation.neighbour_step(steps, spec.step, delta)
        self.save_view()
        self.redraw_now()

    def action_toggle_side(self) -> None:
        side = self.query_one("#side")
        side.display = not side.display
        self.save_view()

    def action_refresh_now(self) -> None:
        if self.watcher is not None:
            self.watcher.poll_now()

    def action_hparams(self) -> None:
        from .hparams import HParamsScreen

        self.app.push_screen(HParamsScreen(self))

    def action_sweep(self) -> None:
        from ..sweep_data import sweep_folders
        from .sweep import SweepScreen

        with self.store.lock:
            folders = sweep_folders(self.visible_runs())
        if not folders:
            self.app.notify("no sweep here: `w` shows a sweep folder's trials "
                            "(tbx-tui sweep makes one)", severity="warning")
            return
        self.app.push_screen(SweepScreen(self, folders[0]))

    def action_help(self) -> None:
        about = ("tbx-tui dashboard: a grid of charts, one per tag (raw curves faint, "
                 "smoothed bright, one colour per run; histograms of the highlighted run). "
                 "Keys act on the selected chart (bright top border). A run is live while "
                 "it writes within 5× its own logging interval (at least 30 s), then "
                 "stale; finished, stopped, failed and diverged are what the run wrote.")
        self.app.push_screen(HelpScreen(help_keys([*self.BINDINGS, *self.app.BINDINGS]),
                                        about))

    def action_export(self) -> None:
        name = self.query_one(RunTable).current
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
