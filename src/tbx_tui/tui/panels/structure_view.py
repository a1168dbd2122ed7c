"""The model-structure view: ``Model/structure`` (the module tree the trainer logs at its
first step) as a collapsible tree, each module with its output shape and parameter count.
Enter or a click folds and unfolds a module; the top two levels start unfolded."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Tree

from ...logs.evaluation import STRUCTURE_TAG, structure_rows, text_tag
from . import PanelContext
from .cell import Cell, run_having

OPEN_DEPTH = 1
MAX_ROWS = 2000


class StructureChart(Cell, Tree):
    def __init__(self, spec):
        super().__init__(spec, "model")  # Tree's label: the model's row replaces it

    def update_chart(self, ctx: PanelContext) -> bool:
        name = run_having(ctx, lambda r: text_tag(r, STRUCTURE_TAG) is not None)
        run = ctx.runs.get(name) if name else None
        tag = text_tag(run, STRUCTURE_TAG) if run else None
        point = run.texts[tag][-1] if tag else None
        sig = (name, point.step if point else None, len(run.texts[tag]) if tag else 0,
               ctx.labels.get(name))
        if sig == self._sig:
            return False
        self._sig = sig
        self.title_view(ctx, name, "model structure")
        self.fill(point.text if point else "")
        return True

    def fill(self, text: str) -> None:
        rows, tail = structure_rows(text)
        self.clear()
        if not rows:
            self.root.set_label(Text("no module tree logged yet" if not text else
                                     "structure text in an unknown layout"))
            for line in tail[:200]:
                self.root.add_leaf(Text(line))
            self.root.expand()
            return
        width = max(len(r[1]) for r in rows)
        shape_w = max(len(r[2]) for r in rows)
        parents = {-1: self.root}
        if len(rows) > MAX_ROWS:  # ours lists up to 400; a stranger's may list anything
            tail = [f"… {len(rows) - MAX_ROWS:,} more modules not shown", *tail[:10]]
            rows = rows[:MAX_ROWS]
        for k, (depth, module, shape, params) in enumerate(rows):
            # Text, never markup: module reprs hold brackets and come from a log file.
            line = Text(f"{module:<{min(width, 60)}}  ")
            line.append(f"{shape:<{shape_w}}", style="cyan")
            line.append(f"  {params}", style="dim" if "frozen" not in params else "yellow")
            if depth == 0:
                self.root.set_label(line)
                parents[0] = self.root
                continue
            parent = parents.get(depth - 1, self.root)
            if k + 1 < len(rows) and rows[k + 1][0] > depth:
                parents[depth] = parent.add(line, expand=depth <= OPEN_DEPTH)
            else:  # no children to fold: no fold marker
                parent.add_leaf(line)
        for line in tail:
            self.root.add_leaf(Text(line, style="italic"))
        self.root.expand()
