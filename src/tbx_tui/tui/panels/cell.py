"""What every chart-grid cell shares: its chart (``spec``), the signature of what it last
drew (nothing is redrawn while that holds), its border title, a click that selects it, and
which run it shows when a view follows one run."""

from __future__ import annotations

from textual.events import Click
from textual.markup import escape

from ...logs.evaluation import pick_step, step_index
from ..grid_state import ChartSpec
from . import PanelContext


class Cell:
    def __init__(self, spec: ChartSpec, *args):
        super().__init__(*args, classes="chart plot")
        self.spec = spec
        self._sig = None

    def set_title(self, title: str) -> None:
        """Textual repaints the whole cell on any title assignment, even an equal one."""
        if title != getattr(self, "_title", None):
            self._title = title
            self.border_title = title

    def newest(self, ctx: PanelContext, field: str) -> tuple[str | None, list, object]:
        """(run, its points of this chart's tag in ``RunData.<field>``, the point at the
        chart's step) for a view of one tag in one run."""
        tag = self.spec.tag
        name = run_having(ctx, lambda r: bool(getattr(r, field).get(tag)))
        points = getattr(ctx.runs[name], field).get(tag, []) if name else []
        return name, points, pick_step(points, self.spec.step)

    def title_view(self, ctx: PanelContext, name: str | None, what: str,
                   steps: list[int] | None = None) -> None:
        """"<what> · <run label> · <step note>": the title of a view of one run. A border
        title is markup: the tag and the label (anyone's text) are escaped into it."""
        label = ctx.labels.get(name, name) if name else ""
        parts = [escape(what)] + ([escape(label)] if label else []) + \
            ([step_note(steps, self.spec.step)] if steps is not None and label else [])
        self.set_title(" · ".join(parts))

    def on_click(self, event: Click) -> None:
        grid = self.parent  # the ChartGrid (which imports the cells, so not named here)
        if hasattr(grid, "select_spec"):
            grid.select_spec(self.spec)

    def update_chart(self, ctx: PanelContext) -> bool:
        raise NotImplementedError


class SizedCell(Cell):
    """A cell whose content is laid out for its size when it is updated (not when it is
    rendered, as plotext charts are): a new size lays it out again, from the context it
    was last updated with. A cell is often updated before its first layout (size 0)."""

    _ctx: PanelContext | None = None

    def remember(self, ctx: PanelContext) -> None:
        self._ctx = ctx

    def on_resize(self) -> None:
        ctx, store = self._ctx, getattr(self.screen, "store", None)
        if ctx is None or store is None or not self.size.area:
            return
        try:
            with store.lock:
                self.update_chart(ctx)
        except Exception as e:  # the panel's edge, as Panel.update_panel
            self.log.error(f"{type(self).__name__} failed on resize", e)


def run_having(ctx: PanelContext, has) -> str | None:
    """The highlighted run if ``has(run)``, else the first run (by name) that has it."""
    run = ctx.runs.get(ctx.current) if ctx.current else None
    if run is not None and has(run):
        return ctx.current
    return next((n for n in sorted(ctx.runs) if has(ctx.runs[n])), None)


def step_note(steps: list[int], chosen: int | None) -> str:
    """"step 1,200 (newest)" or "step 600, 2 of 5": where the view is among its steps."""
    if not steps:
        return "none yet"
    if chosen is None:
        return f"step {steps[-1]:,} (newest)"
    at = step_index(steps, chosen)
    return f"step {steps[at]:,}, {at + 1} of {len(steps)}"
