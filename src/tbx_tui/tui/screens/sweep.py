"""The sweep view (``w`` on the dashboard of a sweep folder): a parallel-coordinates chart
(one line per trial across the swept settings and the objective, coloured from best to
worst, log axes where the range is log), the objective of each finished trial with the
best so far, and each setting's importance as bars (Optuna's default evaluator, computed
on a thread from the sweep's journal). The trials table is the HParams view (``H``).
Everything comes from the sweep folder's files: it follows a sweep running elsewhere."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Static

from ...safe_text import clean
from ...sweep.space import short
from ..sweep_data import SweepData, SweepError, read
from ..widgets.cached_plot import CachedPlot, fit_title

GOOD, BAD, GREY = (80, 200, 120), (220, 80, 60), (110, 110, 110)


def ramp(share: float) -> tuple[int, int, int]:
    """Colour from the best (0) to the worst (1) objective."""
    return tuple(round(g + (b - g) * share) for g, b in zip(GOOD, BAD))


class SweepScreen(Screen):
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("H", "hparams", "Trials table"),
        Binding("q", "app.quit", "Quit"),
    ]

    def __init__(self, dashboard, folder: Path):
        super().__init__()
        self.dashboard, self.folder = dashboard, folder
        self.data: SweepData | None = None
        self._version = -1
        self._importance_for = -1  # finished trials the shown importance was computed on
        self.importance: dict[str, float] | None = None

    def compose(self) -> ComposeResult:
        yield Static(id="sw-head")
        with Horizontal(id="sw-body"):
            yield CachedPlot(id="sw-parallel")
            with Vertical(id="sw-side"):
                yield CachedPlot(id="sw-best")
                yield Static(id="sw-importance")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one("#sw-body").styles.height = "1fr"
        self.query_one("#sw-parallel").styles.width = "2fr"
        self.query_one("#sw-side").styles.width = "1fr"
        self.query_one("#sw-importance").styles.height = "auto"
        self.follow()
        self.set_interval(2.0, self.follow)

    def on_resize(self) -> None:
        self._version = -1  # the titles and the bars fit the new size
        self.call_after_refresh(self.follow)

    def follow(self) -> None:
        """Redraw when the store changed; a drawing error stays in this view."""
        store = self.dashboard.store
        if store.version == self._version:
            return
        self._version = store.version
        try:
            with store.lock:
                self.data = read(self.folder, dict(self.dashboard.visible_runs()),
                                 self.dashboard.clock())
        except SweepError as e:
            self._head(Text(clean(str(e)), style="bold red"))
            return
        except Exception as e:  # a timer lets nothing escape: the app would end
            self._head(Text(f"sweep view: {type(e).__name__}: {clean(str(e))}", style="red"))
            return
        self._head(self.header())
        self.query_one("#sw-parallel", CachedPlot).draw_safely(self._parallel)
        self.query_one("#sw-best", CachedPlot).draw_safely(self._best)
        finished = sum(1 for t in self.data.trials if t.value is not None)
        if finished != self._importance_for and finished >= 2:
            self._importance_for = finished
            self.run_worker(self._importances, thread=True, exclusive=True,
                            group="importance")
        self._show_importance()

    # ---- the parts -------------------------------------------------------------------
    def header(self) -> Text:
        d = self.data
        counts = ", ".join(f"{n} {s}" for s, n in sorted(d.counts().items())) or "no trial yet"
        best = d.best()
        line = (f"sweep {d.folder.name}: {d.sweep.kind}, objective {d.sweep.objective.text()}"
                f", pruner {d.sweep.pruner} · {counts}")
        if best is not None:
            params = "  ".join(f"{k}={short(v)}" for k, v in best.params.items())
            line += f"\nbest: trial {best.number} = {short(best.value)}  {params}"
        return Text(clean(line, multiline=True))

    def _head(self, text: Text) -> None:
        self.query_one("#sw-head", Static).update(text)

    def _parallel(self) -> None:
        d, plot = self.data, self.query_one("#sw-parallel", CachedPlot)
        plt = plot.plt
        plt.clear_figure()
        axes = d.axes()
        xs = list(range(len(axes)))
        # Ranked: finished trials. A pruned trial's value is from an early evaluation:
        # its line is drawn, grey, not ranked against the finished.
        scored = sorted((t for t in d.trials if t.value is not None and t.state == "finished"),
                        key=lambda t: t.value, reverse=not d.minimise)
        rank = {t.number: i / max(len(scored) - 1, 1) for i, t in enumerate(scored)}
        # Unscored (pruned, failed, running) first and grey; then worst to best, so the
        # best line is drawn last, on top.
        order = [t for t in d.trials if t.number not in rank] + scored[::-1]
        for t in order:
            values = [t.params.get(a.name) for a in axes[:-1]] + [t.value]
            points = [(x, a.place(v)) for x, a, v in zip(xs, axes, values)]
            points = [(x, y) for x, y in points if y is not None]
            if not points:
                continue
            colour = ramp(rank[t.number]) if t.number in rank else GREY
            plt.plot([p[0] for p in points], [p[1] for p in points], color=colour,
                     marker="braille")
        for x, a in zip(xs, axes):  # each axis's range, written at its ends
            plt.text(a.tick(0.0), x, 0.0, alignment="center")
            plt.text(a.tick(1.0), x, 1.0, alignment="center")
        plt.xticks(xs, [a.name + (" (log)" if a.log else "") for a in axes])
        plt.yticks([])
        plt.ylim(-0.08, 1.08)
        plt.xlim(-0.4, len(axes) - 0.6)
        plt.title(fit_title("parallel coordinates: green best … red worst; grey "
                            "pruned, failed or running", plot.size.width))

    def _best(self) -> None:
        d, plot = self.data, self.query_one("#sw-best", CachedPlot)
        plt = plot.plt
        plt.clear_figure()
        xs, ys, best = d.best_so_far()
        plt.title(fit_title("objective, best so far", plot.size.width))
        if not xs:
            return
        plt.scatter(xs, ys, marker="•", color=GREY)
        plt.plot(xs, best, color=GOOD, marker="braille")
        step = max(1, len(xs) // 6)
        plt.xticks(xs[::step])
        plt.xlabel("trial")

    def _importances(self) -> None:
        """On a worker thread: Optuna's evaluator over the sweep's journal."""
        journal = self.folder / "optuna.journal"
        result: dict[str, float] | None = None
        if journal.is_file():
            import warnings

            import optuna
            from optuna.storages import JournalStorage
            from optuna.storages.journal import JournalFileBackend

            optuna.logging.set_verbosity(optuna.logging.WARNING)
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    storage = JournalStorage(JournalFileBackend(str(journal)))
                    study = optuna.load_study(study_name=self.folder.name, storage=storage)
                    result = optuna.importance.get_param_importances(study)
            except Exception:  # too few finished trials, nothing varied, a damaged journal
                result = None
        self.app.call_from_thread(self._set_importance, result)

    def _set_importance(self, result) -> None:
        self.importance = result
        self._show_importance()

    def _show_importance(self) -> None:
        width = max(self.query_one("#sw-importance").size.width, 24)
        if not self.importance:
            text = "importance: after two finished trials (from the sweep's journal)"
        else:
            name_w = min(max(len(k) for k in self.importance), 14)
            bar_w = max(width - name_w - 9, 4)
            lines = ["importance (Optuna)"]
            for name, share in self.importance.items():
                lines.append(f"{name[:name_w]:<{name_w}} {share:5.0%} "
                             f"{'█' * max(1, round(share * bar_w))}")
            text = "\n".join(lines)
        self.query_one("#sw-importance", Static).update(Text(clean(text, multiline=True)))

    def action_hparams(self) -> None:
        from .hparams import HParamsScreen

        self.app.push_screen(HParamsScreen(self.dashboard))
