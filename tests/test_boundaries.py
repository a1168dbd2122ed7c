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
