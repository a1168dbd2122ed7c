"""Themes are data: each ``*.toml`` becomes a ``textual.theme.Theme`` plus run colours.

Looked for, later ones winning on a name clash: the themes shipped with the package
(``themes/`` at the repository root, installed as ``tbx_tui.themes``), then the user's
folder (``$TBX_TUI_THEMES`` or ``~/.config/tbx-tui/themes``).
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

from textual.theme import Theme

DEFAULT_THEME = "tbx-dark"
_COLOURS = ("primary", "secondary", "accent", "foreground", "background", "surface", "panel",
            "success", "warning", "error")


@dataclass(frozen=True)
class PlotTheme:
    theme: Theme
    runs: tuple[tuple[int, int, int], ...]
    source: Path


class ThemeError(ValueError):
    pass


def rgb(text: str) -> tuple[int, int, int]:
    text = text.lstrip("#")
    if len(text) != 6:
        raise ValueError(f"not a #rrggbb colour: {text!r}")
    return tuple(int(text[i:i + 2], 16) for i in (0, 2, 4))


def load_theme(path: Path) -> PlotTheme:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        colours = data.get("colors", {})
        unknown = set(colours) - set(_COLOURS)
        if unknown:
            raise ValueError(f"unknown colour(s): {', '.join(sorted(unknown))}")
        theme = Theme(name=str(data["name"]), dark=bool(data.get("dark", True)),
                      **{k: str(v) for k, v in colours.items()})
        runs = tuple(rgb(c) for c in data.get("plot", {}).get("runs", [])) or \
            ((86, 156, 214), (255, 159, 67), (106, 190, 48), (230, 80, 80))
    except (OSError, tomllib.TOMLDecodeError, KeyError, ValueError, TypeError,
            AttributeError, RecursionError) as e:  # any damage: a warning, not an end
        raise ThemeError(f"theme {path}: {type(e).__name__}: {e}"[:300]) from None
    return PlotTheme(theme, runs, path)


def theme_dirs() -> list[Path]:
    dirs = []
    try:
        from importlib.resources import files

        dirs.append(Path(str(files("tbx_tui.themes"))))
    except (ModuleNotFoundError, TypeError):
        pass
    checkout = Path(__file__).resolve().parents[3] / "themes"  # an editable install
    if checkout.is_dir() and checkout not in dirs:
        dirs.append(checkout)
    user = os.environ.get("TBX_TUI_THEMES") or \
        os.path.join(os.environ.get("XDG_CONFIG_HOME", os.path.expanduser("~/.config")),
                     "tbx-tui", "themes")
    dirs.append(Path(user))
    return dirs


def available_themes() -> tuple[dict[str, PlotTheme], list[str]]:
    """(themes by name, one-line problems with files that could not be loaded)."""
    themes: dict[str, PlotTheme] = {}
    problems = []
    for folder in theme_dirs():
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.toml")):
            try:
                t = load_theme(path)
            except ThemeError as e:
                problems.append(str(e))
                continue
            themes[t.theme.name] = t
    return themes, problems
