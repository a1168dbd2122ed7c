"""The user's own code — a model or data factory named ``FILE.py:NAME``, ``MODULE:NAME``
or an entry point — imported and called so that its failures are one line, and its
``sys.exit()`` a failure of that code rather than the end of tbx-tui."""

from __future__ import annotations

from contextlib import contextmanager

from .errors import ModelUnusable


class UserCodeExit(Exception):
    """User code (a model or data factory, its import, a model's forward) called
    ``sys.exit()``: a failure of that code. Left alone it would end tbx-tui silently, with
    the exit code the user code chose (often 0) and no run."""


@contextmanager
def no_exit(where: str):
    """Run user code; its SystemExit becomes a UserCodeExit naming ``where``."""
    try:
        yield
    except SystemExit as e:
        raise UserCodeExit(f"{where} called sys.exit({e.code!r}); it must return or raise, "
                           "not end the process") from None


def user_object(ref, setting: str = "model"):
    """The class or factory a file, module or entry point reference names."""
    import importlib
    import importlib.util

    from ...refs import entry_points

    where = {"file": ref.target, "module": ref.target,
             "entry": entry_points().get(ref.target, "")}[ref.kind]
    # no_exit outside the try: SystemExit is no Exception, so it passes the except below
    with no_exit(f"{setting}: importing {where}"):
        try:
            if ref.kind == "file":
                spec = importlib.util.spec_from_file_location(
                    f"tbx_tui_user_model_{abs(hash(ref.target))}", ref.target)
                module = importlib.util.module_from_spec(spec)
                spec.loader.exec_module(module)
                attr = ref.attr
            else:
                mod_name, attr = (ref.target, ref.attr) if ref.kind == "module" else \
                    where.split(":", 1)
                module = importlib.import_module(mod_name)
        except Exception as e:  # the user's code: any error while importing it
            raise ModelUnusable(f"cannot import {where}: {type(e).__name__}: {e}") from None
    obj = getattr(module, attr, None)
    if obj is None:
        raise ModelUnusable(f"{where} has no {attr!r}")
    if not callable(obj):
        raise ModelUnusable(f"{where}:{attr} is a {type(obj).__name__}, not a class or "
                            "function")
    return obj, f"{where}:{attr}" if ref.kind != "entry" else where
