"""The run table: one row per run — shown on the charts or not, name, what tells it apart
(its differing hyperparameters), status, last step, last update, final metrics (as
each run's task reports them: test loss and accuracy, validation perplexity, R²),
skipped records, what keeps a file from being read. Space puts the highlighted run on or
off the charts; the highlighted run is the one histograms and export use."""

from __future__ import annotations

from rich.text import Text
from textual.coordinate import Coordinate
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey, RowKey

from ...reports import table_columns
from ...logs.labels import differing_keys, fmt_value, SHORT
from ...logs.summary import ago
from ...logs.watcher import run_status
from . import Panel, PanelContext

# Final metrics shown when some run has them (the last point of the tag): every task's
# columns (tbx_tui/reports.py), then other writers' plain "loss".
METRICS = (*table_columns(), ("loss", "loss", "{:.4f}"))
FIXED = (("on", ""), ("run", "run"), ("status", "status"), ("step", "step"),
         ("updated", "updated"))
# Room for the widest value a column takes, not its first one ("finish", "1m ag").
MIN_WIDTH = {"status": 10, "updated": 8, "step": 6}


# The fixed columns beside the name (on, status, step, updated) and each column's padding.
OTHERS = 1 + MIN_WIDTH["status"] + MIN_WIDTH["step"] + MIN_WIDTH["updated"] + 2 * 5


def middle_cut(name: str, room: int) -> str:
    """``name`` in ``room`` columns: its head, an ellipsis, and its longer tail. Run names
    made by one recipe share a head and differ at the end (the time, a trial's number):
    cutting the end made them all look the same."""
    if len(name) <= room:
        return name
    head = max(room // 3, 1)
    return name[:head] + "…" + name[len(name) - (room - head - 1):]


class RunTable(Panel, DataTable):
    def __init__(self, **kwargs):
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self._columns: tuple = ()

    def sync_panel(self, ctx: PanelContext) -> bool:
        runs = ctx.runs
        keys = differing_keys({n: r.hparams for n, r in runs.items()})
        metrics = [m for m in METRICS if any(m[0] in r.scalars for r in runs.values())]
        columns = (*FIXED, *((f"hp:{k}", SHORT.get(k, k)) for k in keys),
                   *((f"m:{tag}", label) for tag, label, _ in metrics),
                   ("skipped", "skipped"), ("problem", "problem"))
        if columns != self._columns:  # new hyperparameter or metric columns: rebuild
            current = self.current
            self.clear(columns=True)
            self._columns = columns
            for key, label in columns:
                # A padded label, not a fixed width: the column still grows with its
                # content (update_width below), and never shrinks under the widest value.
                self.add_column(label.ljust(MIN_WIDTH.get(key, 0)), key=key)
            if current is not None:
                self._restore = current
        existing = {str(k.value) for k in self.rows}
        for name in existing - set(runs):
            self.remove_row(name)
        room = self.name_room()
        if room != getattr(self, "_room", None):  # resized: every name again
            if self.row_count:
                self._restore = self.current
            self._room, existing = room, set()
            self.clear()
        for name in sorted(runs):
            cells = self._cells(name, ctx, keys, metrics, room)
            if name in existing:
                for key, value in cells.items():
                    if self.get_cell(name, key) != value:
                        self._set_cell(name, key, value)
            else:
                self.add_row(*cells.values(), key=name)
        restore = getattr(self, "_restore", None)
        if restore is not None and restore in runs:
            self.move_cursor(row=self.get_row_index(restore))
            self._restore = None
        return True

    def _set_cell(self, row: str, key: str, value) -> None:
        """DataTable.update_cell repaints the whole table, even for one cell: the ages
        that tick every second sent the table's every row over SSH each second. A value
        that fits its column repaints its cell only; a wider one grows the column."""
        if len(str(value)) > self.columns[key].content_width:
            self.update_cell(row, key, value, update_width=True)
            return
        self._data[RowKey(row)][ColumnKey(key)] = value  # as update_cell stores it
        self._update_count += 1  # its row caches are keyed on this
        self.refresh_coordinate(Coordinate(self.get_row_index(row), self.get_column_index(key)))

    def name_room(self) -> int:
        """Columns for a run's name: with status, step and updated beside it where the
        table is wide enough for a name of 16 or more, else the table less the dot."""
        avail = self.size.width - 2  # the focus bar and the vertical scrollbar
        beside = avail - OTHERS
        return max(beside if beside >= 16 else avail - 4, 10)

    @staticmethod
    def _cells(name: str, ctx: PanelContext, keys, metrics, room: int = 64) -> dict:
        run = ctx.runs[name]
        cells = {
            "on": "●" if name in ctx.shown else "○",
            "run": Text(middle_cut(name, room)),  # a folder name is not markup
            "status": run_status(run, ctx.now),
            "step": "-" if run.last_step is None else str(run.last_step),
            "updated": ago(ctx.now - run.mtime) if run.mtime else "-",
        }
        for k in keys:
            cells[f"hp:{k}"] = fmt_value(run.hparams[k]) if k in run.hparams else ""
        for tag, _, form in metrics:
            s = run.scalars.get(tag)
            cells[f"m:{tag}"] = form.format(float(s.values[-1])) if s is not None and len(s) \
                else ""
        cells["skipped"] = str(run.bad) if run.bad else ""
        cells["problem"] = Text("; ".join(f"{v}{f' ({k})' if k else ''}"  # what, then where
                                          for k, v in sorted(run.problems.items())))
        return cells

    @property
    def current(self) -> str | None:
        if not self.row_count:
            return None
        return str(self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value)
