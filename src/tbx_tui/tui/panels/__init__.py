"""Panels: the parts the dashboard composes (chart grid, run table, …). Each reads the
store on the dashboard's clock through ``update_panel(ctx)`` and stops its own drawing
errors at its edge (``Panel``); the screen only lays them out and routes keys."""

from __future__ import annotations

from dataclasses import dataclass, field

from ...logs.store import RunData


@dataclass
class PanelContext:
    """One tick's view of the store, shared by every panel (read under ``store.lock``)."""
    runs: dict[str, RunData]           # the runs on the dashboard (earlier ones may be left out)
    shown: set[str]                    # on the charts
    labels: dict[str, str]             # run -> what tells it apart (lr=0.01 bs=64)
    current: str | None                # the highlighted run (histograms, export)
    now: float
    smoothing: float = 0.6
    by_time: bool = False
    colours: dict[str, int] = field(default_factory=dict)  # run -> colour slot

    def __post_init__(self):
        if not self.colours:
            self.colours = {n: i for i, n in enumerate(sorted(self.runs))}


class Panel:
    """Mixin for a widget the dashboard updates each tick."""

    panel_error: str | None = None

    def update_panel(self, ctx: PanelContext) -> bool:
        """Returns whether anything was redrawn. Never raises: a panel that fails says so
        (``panel_error``, shown by the screen) and the others go on."""
        try:
            drew = self.sync_panel(ctx)
        except Exception as e:
            self.panel_error = f"{type(e).__name__}: {e}"
            self.log.error(f"{type(self).__name__} failed", e)
            return False
        self.panel_error = None
        return drew

    def sync_panel(self, ctx: PanelContext) -> bool:
        raise NotImplementedError
