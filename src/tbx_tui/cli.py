"""Command line: flags derived from RunConfig, then dispatch.

torch is imported only once training is certain, so ``--help`` and argument errors answer
at once (importing torch costs ~1.6 s here).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import textwrap
from pathlib import Path
from typing import Any, Sequence

from . import __version__, early_interrupt
from .args import OneLineParser
from .safe_text import clean
from .config import (FIELDS, RESUMABLE, ConfigError, build, describe_rule, field_type,
                     load_toml)

PROG = "tbx-tui"


def add_theme_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--theme", metavar="NAME",
                   help="app theme (themes/*.toml, or ~/.config/tbx-tui/themes); t cycles")


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _parse_bool(text: str) -> bool:
    low = text.lower()
    if low in ("1", "true", "yes", "on"):
        return True
    if low in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def _count(low: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}")
        if not low <= value <= 1024:
            raise argparse.ArgumentTypeError(f"must be {low}-1024, got {value}")
        return value

    return parse


def build_parser() -> OneLineParser:
    p = OneLineParser(
        prog=PROG,
        usage=f"{PROG} [--no-ui] [--config FILE | --resume RUN_DIR] [settings …]\n"
              f"       {PROG} watch [LOGDIR …] [--once] [--refresh SECONDS]\n"
              f"       {PROG} sweep [--sweep FILE] [--SETTING LIST|RANGE …] [--sampler S] "
              f"[--trials N] [--objective M] [--pruner P] [--workers N]\n"
              f"       {PROG} models\n"
              f"       {PROG} sample RUN_DIR [--prompt TEXT] [--tokens N] [--temperature T] "
              f"[--top-k K]",
        description="Train a PyTorch model and watch it learn, in the terminal. Everything "
                    "is logged to TensorBoard event files under --logdir. "
                    "`tbx-tui watch [LOGDIR ...]` follows any TensorBoard logs.",
        epilog="Settings come from defaults, then --config FILE, then these flags.",
    )
    p.add_argument("--no-ui", action="store_true",
                   help="train headless with console progress (for nohup, tmux, SLURM, CI)")
    p.add_argument("--config", metavar="FILE",
                   help="TOML run file; every run folder holds one (config.toml)")
    p.add_argument("--resume", metavar="RUN_DIR",
                   help="continue this run folder from its newest checkpoint, with its "
                        "config.toml; only " + ", ".join(flag(n) for n in RESUMABLE) +
                        " may be given anew")
    p.add_argument("--max-restarts", type=_count(0), default=0, metavar="K",
                   help="with --nproc N > 1: restart a failed group up to K times; it resumes "
                        "from the run's newest checkpoint")
    p.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    add_theme_flag(p)
    group = p.add_argument_group("run settings")
    for name, f in FIELDS.items():
        m = f.metadata
        kind = field_type(name)
        bits = [m["help"]]
        rule = describe_rule(name)
        if rule:
            bits.append(rule + (f" {m['unit']}" if m["unit"] else ""))
        bits.append(f"default: {f.default!r}" if f.default != "" else "default: empty")
        kwargs: dict[str, Any] = dict(dest=name, default=argparse.SUPPRESS,
                                      help="; ".join(bits))
        if kind is bool:
            kwargs.update(type=_parse_bool, nargs="?", const=True, metavar="BOOL")
        else:
            kwargs.update(type=kind, metavar=name.upper() if not m["choices"] else None,
                          choices=m["choices"])
        group.add_argument(flag(name), **kwargs)
    return p


def parse_config(argv: Sequence[str]):
    """Returns (namespace, RunConfig). Exits 2 with one line on any bad setting."""
    parser = build_parser()
    args = parser.parse_args(argv)
    overrides = {k: getattr(args, k) for k in FIELDS if hasattr(args, k)}
    file_values: dict[str, Any] | None = None  # None: the file itself was refused
    try:
        file_values = {}
        if args.resume:
            file_values = None
            file_values = _resume_values(parser, args, overrides)
        elif args.config:
            file_values = None
            file_values = load_toml(args.config)
        config = build(file_values, overrides)
    except ConfigError as e:
        # A flag given, or a default that does not go with one given (gpt's text data):
        # either way the flag is what to change.
        if e.field_name in overrides or (file_values is not None and
                                         e.field_name not in file_values):
            got = f" (got {e.value!r})" if e.value is not None else ""
            parser.exit(2, f"{PROG}: error: {flag(e.field_name)}: {e.rule}{got}\n")
        if file_values and e.field_name in file_values and not e.source:
            e = ConfigError(e.field_name, e.rule, e.value, source=args.config)
        parser.exit(2, f"{PROG}: error: {e}\n")
    return args, config


def _resume_values(parser, args, overrides: dict[str, Any]) -> dict[str, Any]:
    """The run folder's own settings; a flag may only change what a continuation allows
    (the trainer checks the checkpoint against the result too)."""
    run_dir = Path(args.resume).expanduser()
    toml = run_dir / "config.toml"
    if args.config:
        parser.exit(2, f"{PROG}: error: --resume: the settings come from {toml}; "
                       "--config cannot be given with it\n")
    if not toml.is_file():
        parser.exit(2, f"{PROG}: error: --resume: {run_dir} is not a run folder (no "
                       "config.toml)\n")
    values = load_toml(toml)
    for name, value in overrides.items():
        if name not in RESUMABLE and values.get(name, FIELDS[name].default) != value:
            parser.exit(2, f"{PROG}: error: {flag(name)}: cannot change on --resume (the "
                           f"run was trained with {values.get(name)!r}); these may: "
                           f"{', '.join(flag(n) for n in RESUMABLE)}\n")
    # The folder may have moved since: it is where it is now.
    values.update(logdir=str(run_dir.parent), name=run_dir.name)
    return values


def build_watch_parser() -> OneLineParser:
    p = OneLineParser(prog=f"{PROG} watch",
                      description="Follow TensorBoard log directories (any writer) live.")
    p.add_argument("logdirs", nargs="*", default=["./runs"], metavar="LOGDIR",
                   help="directories to watch, runs at any depth (default: ./runs)")
    p.add_argument("--once", action="store_true",
                   help="print a text summary and exit (the default without a terminal)")
    p.add_argument("--refresh", type=float, default=1.0, metavar="SECONDS",
                   help="seconds between reads of the logs (default: 1)")
    add_theme_flag(p)
    return p


def check_theme(prog: str, name: str | None) -> None:
    """Exit 2 with one line for a theme no theme file defines."""
    if name is None:
        return
    from .tui.themes import available_themes

    themes, _ = available_themes()
    if name not in themes:
        sys.stderr.write(f"{prog}: error: --theme: unknown theme {name!r}; known: "
                         f"{', '.join(sorted(themes))}\n")
        sys.exit(2)


def watch_main(argv: Sequence[str]) -> int:
    parser = build_watch_parser()
    args = parser.parse_args(argv)
    if not args.refresh > 0:
        parser.exit(2, f"{parser.prog}: error: --refresh: must be > 0 (got {args.refresh})\n")
    for d in args.logdirs:
        if not os.path.isdir(d):
            parser.exit(2, f"{parser.prog}: error: not a directory: {d}\n")
    check_theme(parser.prog, args.theme)
    from .logs.watcher import LogWatcher

    watcher = LogWatcher(args.logdirs, interval=args.refresh)
    if args.once or not (sys.stdin.isatty() and sys.stdout.isatty()):
        from .logs.summary import summary

        watcher.poll()
        width = shutil.get_terminal_size((100, 24)).columns if sys.stdout.isatty() else 100
        print(summary(watcher.store, columns=width))
        return 0
    from .tui.app import make_app

    app = make_app("watch", watcher=watcher, theme=args.theme)
    app.run()
    return app.return_code or 0


def main(argv: Sequence[str] | None = None) -> int:
    code = _guarded(argv)
    if argv is None and code < 128 and early_interrupt.seen():  # noted, never acted on
        print(f"{PROG}: interrupted", file=sys.stderr)
        code = 130
    if code >= 128 and argv is None:  # this process's own command line, not a caller's
        # Ended by a signal we handled (130, 129, 143; 141 a closed pipe): everything is
        # closed by now. CPython turns any exit into death by SIGINT once a
        # KeyboardInterrupt has passed through code it ran from C (torch's import does),
        # whatever main returned: -2 instead of 130, seen on a busy machine.
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:
                pass
        os._exit(code)
    return code


def _guarded(argv: Sequence[str] | None) -> int:
    try:
        code = _main(sys.argv[1:] if argv is None else list(argv))
        sys.stdout.flush()  # inside the guard: a pipe's reader may have left
        return code
    except KeyboardInterrupt:  # before the run's own handler is in place (imports)
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `tbx-tui models | head`: the reader left, as `ls | head` does
        # Python flushes stdout again at exit; pointing it at /dev/null keeps that quiet.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + signal.SIGPIPE


def models_main(argv: Sequence[str]) -> int:
    """``tbx-tui models``: every model reference that works here."""
    p = OneLineParser(prog=f"{PROG} models", description="List the models --model takes.")
    p.parse_args(argv)
    from .refs import BUILTIN_MODELS, FORMS, entry_points

    print("built in:    " + ", ".join(BUILTIN_MODELS))
    print("language:    gpt (our own, on text data), hf:NAME_OR_PATH (a Hugging Face causal "
          "LM; the [llm] extra)")
    try:
        from .engine.vision.models import torchvision_classifiers

        names = torchvision_classifiers()
        print(f"torchvision ({len(names)}, as tv:NAME, classifier sized to the data):")
        print(textwrap.fill(", ".join(names), width=88, initial_indent="  ",
                            subsequent_indent="  "))
    except ImportError as e:
        print(f"torchvision: not available ({e})")
    found = entry_points()
    print("entry points (group tbx_tui.models): " + clean(", ".join(
        f"{k} = {v}" for k, v in sorted(found.items())) or "none installed"))
    print(f"your own: FILE.py:NAME or MODULE:NAME — NAME(in_shape, num_classes) returns an "
          f"nn.Module giving (N, num_classes) logits; all forms: {FORMS}")
    return 0


def _main(argv: list[str]) -> int:
    if not (argv and argv[0] in ("watch", "models", "sample", "sweep")):
        return _train_main(argv)
    early_interrupt.release()  # these take Ctrl+C as Python does, from here on
    if argv and argv[0] == "watch":
        return watch_main(argv[1:])
    if argv and argv[0] == "models":
        return models_main(argv[1:])
    if argv and argv[0] == "sample":
        from .sample import sample_main

        return sample_main(argv[1:])
    if argv and argv[0] == "sweep":
        from .sweep.cli import sweep_main

        return sweep_main(argv[1:])
    raise AssertionError(argv[0])


def _train_main(argv: list[str]) -> int:
    args, config = parse_config(argv)
    check_theme(PROG, args.theme)
    under_torchrun = int(os.environ.get("WORLD_SIZE", "1") or 1) > 1  # one app, not N
    if not args.no_ui and not under_torchrun:
        if sys.stdin.isatty() and sys.stdout.isatty():
            early_interrupt.release()  # the app reads Ctrl+C as a key
            from .tui.app import make_app

            app = make_app("train", config=config, theme=args.theme,
                           resume=str(Path(args.resume).expanduser()) if args.resume else None)
            try:
                app.run()
            finally:  # however the app ended, a run still training is stopped and closed
                app.close_runs()
            return app.return_code or 0
        print(f"{PROG}: no terminal; training headless as with --no-ui", file=sys.stderr)
    if config.nproc > 1 and "TORCHELASTIC_RUN_ID" not in os.environ:  # not yet under torchrun
        from .launch import launch, too_few_gpus

        if (problem := too_few_gpus(config.device, config.nproc)):
            print(f"{PROG}: error: --nproc: {problem}", file=sys.stderr)
            return 2
        early_interrupt.release()
        return launch(argv, config.nproc, args.max_restarts)
    from .headless import run_headless

    return run_headless(config, Path(args.resume).expanduser() if args.resume else None)
