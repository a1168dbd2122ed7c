"""Run colours for plots: bright for the smoothed line, dimmed for the raw one behind it.
The active theme sets them (``set_palette``)."""

from __future__ import annotations

PALETTE = [(86, 156, 214), (255, 159, 67), (106, 190, 48), (230, 80, 80), (175, 122, 197),
           (64, 200, 200), (240, 200, 60), (200, 120, 160)]
BACKGROUND = [(30, 30, 30)]


def set_palette(runs, background: tuple[int, int, int]) -> None:
    if runs:
        PALETTE[:] = list(runs)
    BACKGROUND[0] = background


def colour(i: int) -> tuple[int, int, int]:
    return PALETTE[i % len(PALETTE)]


def dimmed(rgb: tuple[int, int, int], amount: float = 0.55) -> tuple[int, int, int]:
    return tuple(int(c * (1 - amount) + b * amount) for c, b in zip(rgb, BACKGROUND[0]))
