"""The layering the design promises, checked in fresh interpreters."""

import subprocess
import sys


def modules_after(code: str) -> set[str]:
    # After a marker: what the code printed (help text naming torch.compile) is no module.
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys\nprint('@@MODULES@@')"
                          "\nprint('\\n'.join(sys.modules))"],
                         capture_output=True, text=True, check=True, timeout=120).stdout
    return {m.split(".")[0] for m in out.split("@@MODULES@@")[-1].split()}


def test_engine_imports_no_ui():
    mods = modules_after("import tbx_tui.engine, tbx_tui.headless")
    assert "torch" in mods
    assert not mods & {"textual", "textual_plotext", "plotext", "rich"}


def test_help_and_argument_errors_do_not_import_torch():
    code = ("import sys\nfrom tbx_tui import cli\ntry:\n    cli.main(['--lr', '-1'])\n"
            "except SystemExit:\n    pass\ntry:\n    cli.main(['--help'])\nexcept SystemExit:\n    pass")
    mods = modules_after(code)
    assert "torch" not in mods
    assert "tensorboardX" not in mods


def test_log_reader_imports_no_torch():
    mods = modules_after("import tbx_tui.logs.watcher, tbx_tui.logs.summary, tbx_tui.logs.series")
    assert "numpy" in mods
    assert not mods & {"torch", "tensorboardX", "tensorboard", "textual"}


def test_the_ui_imports_no_torch():
    # The trainer thread imports torch; the UI thread must never run torch work.
    mods = modules_after("import tbx_tui.tui.train_app, tbx_tui.tui.watch_app, tbx_tui.catalog")
    assert "textual" in mods
    assert "torch" not in mods and "tensorboardX" not in mods


def test_every_package_is_in_the_wheel():
    """pyproject lists the packages by hand (themes/ maps in from the top level): a new
    sub-package left out would be missing from a non-editable install."""
    import tomllib
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    listed = set(tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]
                 ["packages"])
    found = {".".join(p.parent.relative_to(root / "src").parts)
             for p in (root / "src" / "tbx_tui").rglob("__init__.py")}
    assert found <= listed, found - listed


# ---- import layers ------------------------------------------------------------------------
# Each group of src/ may import from the groups listed for it (and itself), nothing else:
# lowest first. The reader and the engine never import each other; the UI reaches the
# engine only on its worker threads (test_the_ui_imports_no_torch).
ENGINE = ("engine.runtime", "engine.vision", "engine.language", "engine.output",
          "engine.tasks", "engine.run", "engine")
ALLOWED = {
    "base": (),
    "logs": ("base",),
    "engine.runtime": ("base",),
    "engine.vision": ("base", "engine.runtime"),
    "engine.language": ("base", "engine.runtime"),
    "engine.output": ("base", "engine.runtime"),
    "engine.tasks": ("base", "engine.runtime", "engine.vision", "engine.language"),
    "engine.run": ("base", *ENGINE[:5]),
    "engine": ("base", *ENGINE[:6]),
    "front": ("base", *ENGINE),                      # headless, sample
    "sweep": ("base", *ENGINE),                      # sweeps sit above runs
    "tui": ("base", "logs", *ENGINE, "sweep", "tui"),  # the sweep view reads its definition
    "cli": ("base", "logs", *ENGINE, "front", "sweep", "tui"),
}
FRONT = {"tbx_tui.headless", "tbx_tui.sample"}


def _group(module: str) -> str:
    parts = module.split(".")
    if module in FRONT:
        return "front"
    if module in ("tbx_tui.cli", "tbx_tui.__main__"):
        return "cli"
    if len(parts) > 1 and parts[1] in ("logs", "tui", "sweep"):
        return parts[1]
    if len(parts) > 1 and parts[1] == "engine":
        return "engine" if len(parts) == 2 or parts[2] not in \
            {g.split(".")[1] for g in ENGINE[:6]} else f"engine.{parts[2]}"
    return "base"


def import_graph() -> dict[str, set[str]]:
    """Every import in src/tbx_tui, at the top of a module or inside a function, as
    module -> the tbx_tui modules it names."""
    import ast
    from pathlib import Path

    src = Path(__file__).resolve().parents[1] / "src"
    modules = {}
    for path in (src / "tbx_tui").rglob("*.py"):
        parts = list(path.relative_to(src).with_suffix("").parts)
        package = parts[-1] == "__init__"
        modules[".".join(parts[:-1] if package else parts)] = (path, package)
    graph = {}
    for name, (path, package) in modules.items():
        graph[name] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    here = name.split(".") if package else name.split(".")[:-1]
                    here = here[:len(here) - node.level + 1]
                    base = ".".join(here + ([base] if base else []))
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base
                           for a in node.names]
            else:
                continue
            for target in targets:
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                if target and target != name:
                    graph[name].add(target)
    return graph


def test_no_import_circles_and_no_import_upwards():
    graph = import_graph()
    assert len(graph) > 80 and "tbx_tui.engine.run.trainer" in graph
    upwards = sorted(f"{m} -> {t}" for m, ts in graph.items() for t in ts
                     if _group(t) != _group(m) and _group(t) not in ALLOWED[_group(m)])
    assert not upwards
    # Circles: Tarjan's strongly connected components of more than one module.
    index, low, stack, on, circles = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    assert not circles


def test_every_engine_sub_package_says_what_it_holds_in_one_line():
    from pathlib import Path

    engine = Path(__file__).resolve().parents[1] / "src" / "tbx_tui" / "engine"
    subs = [p for p in engine.iterdir() if (p / "__init__.py").is_file()]
    assert {p.name for p in subs} == {g.split(".")[1] for g in ENGINE[:6]}
    for p in subs:
        first = (p / "__init__.py").read_text().splitlines()[0]
        assert first.startswith('"""') and first.endswith('"""') and len(first) > 40, p


def test_the_loop_the_sinks_and_the_dashboard_never_ask_which_task_they_run():
    """What differs between tasks is the task's (engine/tasks/) and its report's
    (reports.py): a new task needs no edit in these."""
    import re
    from pathlib import Path

    src = Path(__file__).resolve().parents[1] / "src" / "tbx_tui"
    files = [*(src / "engine" / "run").glob("*.py"), *(src / "engine" / "output").glob("*.py"),
             *(src / "tui" / "panels").glob("*.py"), src / "tui" / "screens" / "dashboard.py",
             src / "tui" / "screens" / "training.py", src / "progress.py"]
    asking = [f"{p.relative_to(src)}: {line.strip()}" for p in files
              for line in p.read_text().splitlines()
              if re.search(r"\bis_(lm|hf)\b|is_(lm|hf)_model|== \"gpt\"|LM_MODELS", line)]
    assert len(files) > 15 and not asking
