"""The HParams view: every run of the dashboard × its hyperparameters × its final metrics
(the last point of each scalar tag), as TensorBoard's HParams tab shows them — for runs of
any writer that used the HParams plugin. Sortable by any column, filterable; the runs
chosen here are the runs on the charts; ``d`` on two rows diffs their configs."""

from __future__ import annotations

import operator
import re

from rich.markup import escape
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, Static

from ...logs.labels import SHORT, differing_keys, fmt_value
from ..widgets.ordered_input import OrderedInput
from ...logs.watcher import run_status

_OPS = {">=": operator.ge, "<=": operator.le, "!=": operator.ne, "=": operator.eq,
        ">": operator.gt, "<": operator.lt}
_TOKEN = re.compile(r"^([^<>=!]+)(>=|<=|!=|=|>|<)(.+)$")


class FilterError(ValueError):
    pass


def columns_of(runs) -> tuple[list[str], list[str], list[str]]:
    """(the hyperparameters that differ between runs, those that do not, the scalar tags
    with a final value). Shown in the order differing, metrics, same: at 80 columns what
    tells runs apart and how they did come before what every run shares."""
    hp = {n: r.hparams for n, r in runs.items()}
    differ = differing_keys(hp)
    same = sorted({k for h in hp.values() for k in h} - set(differ))
    tags = sorted({t for r in runs.values() for t, s in r.scalars.items() if len(s)})
    return differ, same, tags


def row_values(name: str, run, keys: list[str], tags: list[str], now: float) -> dict:
    """column -> raw value (numbers stay numbers, for sorting and filtering)."""
    values = {"run": name, "status": run_status(run, now)}
    for k in keys:
        values[f"hp:{k}"] = run.hparams.get(k)
    for t in tags:
        s = run.scalars.get(t)
        values[f"m:{t}"] = float(s.values[-1]) if s is not None and len(s) else None
    return values


def compile_filter(text: str, names: dict[str, str]):
    """``text``: space-separated terms, each ``column OP value`` (OP one of = != < <= >
    >=; a column by its key, tag or short name) or a word found in any cell. Returns a
    predicate over row_values(); raises FilterError naming a column that does not exist."""
    tests = []
    for term in text.split():
        m = _TOKEN.match(term)
        if not m:
            word = term.lower()
            tests.append(lambda row, w=word: any(w in _text(v).lower() for v in row.values()))
            continue
        key, op, want = m.group(1).lower(), _OPS[m.group(2)], m.group(3)
        column = names.get(key)
        if column is None:
            raise FilterError(f"no column {m.group(1)!r}")
        tests.append(lambda row, c=column, op=op, w=want: _compare(row.get(c), op, w))
    return lambda row: all(t(row) for t in tests)


def _compare(value, op, want: str) -> bool:
    if value is None:
        return op is operator.ne
    try:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return op(float(value), float(want))
    except ValueError:
        pass
    return op(_text(value).lower(), want.lower())


def _text(v) -> str:
    return fmt_value(v) if v is not None else ""


def _sort_key(v):
    """Numbers first (by value), then text, then blanks."""
    if v is None or v == "":
        return (2, 0, "")
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return (0, float(v), "")
    return (1, 0, str(v))


class HParamsScreen(Screen):
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("space", "toggle_run", "On charts"),
        Binding("o", "only_filtered", "Only these"),
        Binding("s", "sort", "Sort"),
        Binding("d", "diff", "Diff"),
        Binding("slash", "focus_filter", "Filter", key_display="/"),
        # as on the dashboard under it; typed into the filter, q is a letter
        Binding("q", "app.quit", "Quit"),
    ]

    def __init__(self, dashboard):
        super().__init__()
        self.dashboard = dashboard
        self.sort_column: str | None = None
        self.reverse = False
        self.marked: str | None = None
        self.filter_text = ""
        self.rows: dict[str, dict] = {}

    def compose(self) -> ComposeResult:
        yield OrderedInput(placeholder="filter: words, or column=value, lr<0.01, "
                    "\"Accuracy/test>=0.9\" status=finished (Enter: table)", id="hp-filter")
        yield DataTable(id="hp-table", cursor_type="cell", zebra_stripes=True)
        yield Static(id="hp-diff")
        yield Static(id="hp-status")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.rebuild()
        self.query_one(DataTable).focus()
        self.set_interval(2.0, self._follow)  # runs still training: their metrics move

    def _follow(self) -> None:
        if self.dashboard.store.version != self._version:
            try:
                self.rebuild()
            except Exception as e:  # a timer lets nothing escape: the app would end
                self._say(f"display error: {type(e).__name__}: {e}")

    @property
    def table(self) -> DataTable:
        return self.query_one("#hp-table", DataTable)

    def rebuild(self) -> None:
        d = self.dashboard
        self._version = d.store.version
        with d.store.lock:
            runs = dict(d.visible_runs())
            differ, same, tags = columns_of(runs)
            keys = differ + same
            now = d.clock()
            self.rows = {n: row_values(n, r, keys, tags, now) for n, r in runs.items()}
        self.names = {"run": "run", "status": "status"}
        for k in keys:
            self.names[k.lower()] = self.names[SHORT.get(k, k).lower()] = f"hp:{k}"
        for t in tags:
            self.names[t.lower()] = f"m:{t}"
        try:
            keep = compile_filter(self.filter_text, self.names)
            problem = ""
        except FilterError as e:
            keep, problem = (lambda row: True), str(e)
        table = self.table
        current = self.current
        table.clear(columns=True)
        table.add_column("", key="on")
        for key, label in [("run", "run"), ("status", "status"),
                           *((f"hp:{k}", SHORT.get(k, k)) for k in differ),
                           *((f"m:{t}", t) for t in tags),
                           *((f"hp:{k}", SHORT.get(k, k)) for k in same)]:
            arrow = (" ▼" if self.reverse else " ▲") if key == self.sort_column else ""
            table.add_column(Text(label + arrow), key=key)  # Text: a str would be markup
        names = [n for n in sorted(self.rows) if keep(self.rows[n])]
        if self.sort_column:
            names.sort(key=lambda n: _sort_key(self.rows[n].get(self.sort_column)),
                       reverse=self.reverse)
        self.filtered = names
        columns = [str(k.value) for k in table.columns][3:]
        for n in names:
            row = self.rows[n]
            table.add_row("●" if n in d.shown else "○", Text(n), row["status"],
                          *(Text(_text(row[c])) for c in columns), key=n)
        if current in names:
            table.move_cursor(row=names.index(current))
        self._say(problem or f"{len(names)} of {len(self.rows)} run(s) · s sorts by the "
                  "cursor's column · d on two rows: diff")

    def _say(self, text: str) -> None:
        self.query_one("#hp-status", Static).update(Text(text))

    @property
    def current(self) -> str | None:
        t = self.table
        if not t.row_count:
            return None
        return str(t.coordinate_to_cell_key(t.cursor_coordinate).row_key.value)

    def on_input_changed(self, event: Input.Changed) -> None:
        self.filter_text = event.value
        self.rebuild()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.table.focus()

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        self._sort_by(str(event.column_key.value))

    def action_sort(self) -> None:
        t = self.table
        if t.row_count:
            self._sort_by(str(t.coordinate_to_cell_key(t.cursor_coordinate).column_key.value))

    def _sort_by(self, column: str) -> None:
        if column == "on":
            return
        self.reverse = not self.reverse if column == self.sort_column else False
        self.sort_column = column
        self.rebuild()

    def action_toggle_run(self) -> None:
        name = self.current
        if name is not None:
            self.dashboard.shown ^= {name}
            self._charts_changed()

    def action_only_filtered(self) -> None:
        self.dashboard.shown = set(self.filtered)
        self._charts_changed()

    def _charts_changed(self) -> None:
        self.dashboard._seen_version = -1  # its ● column, legend and charts follow
        self.dashboard.redraw_now()
        self.rebuild()

    def action_focus_filter(self) -> None:
        self.query_one("#hp-filter", Input).focus()

    def action_diff(self) -> None:
        name = self.current
        if name is None:
            return
        if self.marked is None or self.marked == name:
            self.marked = name
            self.query_one("#hp-diff", Static).update(Text(
                f"diff: {name} marked; d on another run compares them"))
            return
        a, b = self.marked, name
        self.marked = None
        self.query_one("#hp-diff", Static).update(config_diff(
            a, self.dashboard.store.runs[a].hparams, b, self.dashboard.store.runs[b].hparams))


def config_diff(a: str, ha: dict, b: str, hb: dict) -> Text:
    """The keys whose values differ, side by side; the count of those that agree."""
    keys = list(dict.fromkeys([*ha, *hb]))
    differ = [k for k in keys if ha.get(k, None) != hb.get(k, None) or (k in ha) != (k in hb)]
    width = max([len(k) for k in differ] + [3])
    lines = [f"[b]diff[/] {escape(a)}  →  {escape(b)}"]
    for k in differ:
        lines.append(f"  {escape(k):<{width}}  {escape(_text(ha.get(k)) or '(absent)')}  →  "
                     f"{escape(_text(hb.get(k)) or '(absent)')}")
    same = len(keys) - len(differ)
    lines.append(f"  ({'no differences' if not differ else f'{len(differ)} differ'}, "
                 f"{same} the same)")
    return Text.from_markup("\n".join(lines))
