"""The system panel: CPU, memory and GPUs of the highlighted run, as gauges with
sparklines of their recent history, from the run's ``sys/…`` scalars (engine/output/system.py
writes them; any writer using the same tags works). Hidden for runs without them."""

from __future__ import annotations

import re

from rich.markup import escape
from textual.widgets import Static

from . import Panel, PanelContext

BLOCKS = " ▏▎▍▌▋▊▉█"
SPARKS = "▁▂▃▄▅▆▇█"
_GPU = re.compile(r"^sys/gpu(\d+)/")


def gauge(fraction: float, width: int) -> str:
    """A bar ``width`` cells wide, filled to ``fraction`` in eighths of a cell."""
    eighths = round(min(max(fraction, 0.0), 1.0) * width * 8)
    full, part = divmod(eighths, 8)
    return ("█" * full + (BLOCKS[part] if part else "")).ljust(width)


def sparkline(values, width: int, top: float | None = None) -> str:
    """The last ``width`` values as ▁…█ (scaled to ``top``, else to their maximum)."""
    recent = [float(v) for v in values[-width:]] if width > 0 else []
    if not recent:
        return ""
    high = top or max(recent) or 1.0
    return "".join(SPARKS[min(int(v / high * (len(SPARKS) - 1) + 0.5), len(SPARKS) - 1)]
                   if v > 0 else " " for v in recent)


class SystemPanel(Static, Panel):
    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.border_title = "system"
        self._sig = None

    def sync_panel(self, ctx: PanelContext) -> bool:
        run = ctx.runs.get(ctx.current) if ctx.current else None
        series = {t: s for t, s in run.scalars.items() if t.startswith("sys/")} if run else {}
        if not series:
            self.display = False
            self._sig = None
            return False
        width = max(self.size.width - 1, 20)
        sig = (ctx.current, width, tuple((t, len(s)) for t, s in sorted(series.items())))
        if sig == self._sig and self.display:
            return False
        self._sig = sig
        self.display = True
        self.update("\n".join(self.lines(series, width)), layout=False)
        return True

    @staticmethod
    def lines(series: dict, width: int) -> list[str]:
        last = {t: float(s.values[-1]) for t, s in series.items() if len(s)}
        bar = max(6, min(16, (width - 16) // 2))
        spark = max(0, width - bar - 16)
        out = []

        def row(label: str, fraction: float, figure: str, tag: str, top: float | None):
            history = sparkline(series[tag].values, spark, top) if tag in series else ""
            out.append(f"[b]{label:<4}[/] {gauge(fraction, bar)} {escape(figure):<9} "
                       f"[dim]{history}[/]".rstrip())

        if "sys/system_cpu_percent" in last:
            cpu = last["sys/system_cpu_percent"]
            row("cpu", cpu / 100, f"{cpu:.0f}%", "sys/system_cpu_percent", 100.0)
        if "sys/ram_used_gib" in last and last.get("sys/ram_total_gib"):
            used, total = last["sys/ram_used_gib"], last["sys/ram_total_gib"]
            row("ram", used / total, f"{used:.1f}/{total:.0f}G", "sys/ram_used_gib", total)
        extra = []
        if "sys/cpu_percent" in last:
            extra.append(f"proc {last['sys/cpu_percent']:.0f}% cpu")
        if "sys/rss_gib" in last:
            extra.append(f"rss {last['sys/rss_gib']:.2f}G")
        if "sys/torch_max_allocated_gib" in last:
            extra.append(f"torch peak {last['sys/torch_max_allocated_gib']:.1f}G")
        if extra:
            out.append("[dim]" + escape(" · ".join(extra)) + "[/]")
        gpus = sorted({int(m.group(1)) for t in last if (m := _GPU.match(t))})
        for i in gpus:
            p = f"sys/gpu{i}/"
            util = last.get(p + "util_percent")
            if util is not None:
                row(f"gpu{i}", util / 100, f"{util:.0f}%", p + "util_percent", 100.0)
            used, total = last.get(p + "mem_used_gib"), last.get(p + "mem_total_gib")
            if used is not None and total:
                row("mem", used / total, f"{used:.0f}/{total:.0f}G", p + "mem_used_gib", total)
            facts = [f"{last[p + 'temperature_c']:.0f}°C" if p + "temperature_c" in last else "",
                     f"{last[p + 'power_w']:.0f} W" if p + "power_w" in last else ""]
            if any(facts):
                out.append("     [dim]" + "  ".join(f for f in facts if f) + "[/]")
        return out
