"""The runs: name, status, last step, last update, skipped records, what keeps a file
from being read; space puts a run on or
off the chart; the highlighted run is the one histograms and export use."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable

from ...logs.store import RunData
from ...logs.summary import ago
from ...logs.watcher import run_status


class RunList(DataTable):
    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.zebra_stripes = True
        for label, key in (("", "on"), ("run", "run"), ("status", "status"),
                           ("step", "step"), ("updated", "updated"), ("skipped", "skipped"),
                           ("problem", "problem")):
            self.add_column(label, key=key)

    def sync(self, runs: dict[str, RunData], shown: set[str], now: float) -> None:
        """Update rows in place (keeps the cursor); add and remove as runs come and go."""
        existing = {str(k.value) for k in self.rows}
        for name in existing - set(runs):
            self.remove_row(name)
        for name in sorted(runs):
            run = runs[name]
            cells = {
                "on": "●" if name in shown else "○",
                "run": Text(name),  # a folder name is not markup
                "status": run_status(run, now),
                "step": "-" if run.last_step is None else str(run.last_step),
                "updated": ago(now - run.mtime) if run.mtime else "-",
                "skipped": str(run.bad) if run.bad else "",
                "problem": Text("; ".join(f"{v}{f' ({k})' if k else ''}"  # what, then where
                                          for k, v in sorted(run.problems.items()))),
            }
            if name in existing:
                for key, value in cells.items():
                    if self.get_cell(name, key) != value:
                        self.update_cell(name, key, value)
            else:
                self.add_row(*cells.values(), key=name)

    @property
    def current(self) -> str | None:
        if not self.row_count:
            return None
        return str(self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value)
