"""The PR-curve view: every class's precision-recall curve (``PR/<class>``, TensorBoard's
PR-curve plugin data) at one evaluation on one chart, the class picked in the list beside
it bright and the others faint; the list gives each class's average precision. It follows
the newest evaluation or a chosen step (``,`` and ``.``)."""

from __future__ import annotations

import numpy as np
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from ...logs.evaluation import PR_PREFIX, average_precision, pick_step, pr_points
from ..widgets.cached_plot import CachedPlot, fit_title
from ..widgets.palette import colour, dimmed
from . import PanelContext
from .cell import Cell, run_having

# Curves drawn faint behind the picked one: the classes with the lowest average precision
# (past a score of them, a chart of noise; 64 took 135 ms a redraw at 200x60, 100 classes).
MAX_FAINT = 20


class PRPlot(CachedPlot):
    def draw_curves(self, curves: list[tuple[str, np.ndarray, float]], picked: str,
                    index: int):
        """``curves``: (tag, curve, average precision) per class."""
        self.draw_safely(self._draw, curves, picked, index)

    def _draw(self, curves, picked, index) -> None:
        plt = self.plt
        plt.clear_figure()
        if not curves:
            plt.title("no PR curves yet")
            return
        rgb = colour(index)
        _, chosen, chosen_ap = next((c for c in curves if c[0] == picked), curves[0])
        others = sorted((ap, tag, c) for tag, c, ap in curves if tag != picked)
        for _, _, curve in others[:MAX_FAINT]:
            recall, precision = pr_points(curve)
            plt.plot(recall.tolist(), precision.tolist(), color=dimmed(rgb, 0.7),
                     marker="braille")
        recall, precision = pr_points(chosen)
        plt.plot(recall.tolist(), precision.tolist(), color=rgb, marker="braille")
        plt.xlim(0, 1)
        plt.ylim(0, 1.02)
        plt.xticks([0, 0.5, 1])
        plt.yticks([0, 0.5, 1])
        plt.xlabel("recall")
        plt.ylabel("precision")
        plt.title(fit_title(f"{picked[len(PR_PREFIX):]}: AP {chosen_ap:.3f}",
                            self.size.width))


class PRChart(Cell, Horizontal):

    def compose(self) -> ComposeResult:
        yield OptionList(classes="pr-classes")
        yield PRPlot(classes="pr-plot")

    def on_mount(self) -> None:
        self._options: tuple = ()

    def update_chart(self, ctx: PanelContext) -> bool:
        spec = self.spec
        name = run_having(ctx, lambda r: any(r.curves.values()))
        run = ctx.runs.get(name) if name else None
        tags = [t for t in run.curves if run.curves[t]] if run else []  # class order
        sig = (name, spec.step, spec.pick, tuple(id(run.curves[t][-1]) for t in tags),
               self.size, ctx.labels.get(name), ctx.colours.get(name))  # not run.version:
        # that changes with every scalar
        if sig == self._sig or not self.is_mounted:
            return False
        self._sig = sig
        curves = []  # (tag, curve, average precision): the list and the chart show it
        for tag in tags:
            curve = pick_step(run.curves[tag], spec.step).array
            curves.append((tag, curve, average_precision(curve)))
        steps = sorted({p.step for t in tags for p in run.curves[t]})
        self.title_view(ctx, name, "PR curves", steps)
        picked = spec.pick if spec.pick in tags else (tags[0] if tags else "")
        self._fill(curves, picked)
        self.query_one(PRPlot).draw_curves(curves, picked, ctx.colours.get(name, 0))
        return True

    def _fill(self, curves, picked: str) -> None:
        listing = self.query_one(OptionList)
        options = tuple((tag, f"{ap:.3f}") for tag, _, ap in curves)
        if options != self._options:
            # Text, never markup: a class name is anyone's text.
            prompts = [Text(f"{tag[len(PR_PREFIX):][:12]} {ap}") for tag, ap in options]
            if [t for t, _ in options] == [t for t, _ in self._options]:
                # The same classes, new scores (each evaluation): the prompts in place. A
                # rebuilt list asked for a layout pass of the whole screen.
                for i, prompt in enumerate(prompts):
                    listing.replace_option_prompt_at_index(i, prompt)
            else:
                highlighted = listing.highlighted
                listing.clear_options()
                listing.add_options([Option(p, id=tag) for p, (tag, _) in zip(prompts, options)])
                listing.highlighted = highlighted
            self._options = options
        ids = [tag for tag, _ in options]
        if picked in ids and listing.highlighted != ids.index(picked):
            listing.highlighted = ids.index(picked)  # its message finds the spec agreeing

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        event.stop()
        tag = event.option.id or ""
        if tag and tag != self.spec.pick:
            self.spec.pick = tag
            screen = self.screen
            if hasattr(screen, "save_view"):
                screen.save_view()
                screen.redraw_now()
