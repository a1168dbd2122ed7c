import os
import sys

from . import early_interrupt

early_interrupt.install()  # before the heavy imports: a Ctrl+C among them is not lost

try:  # Ctrl+C while the modules load: one line, as later (cli.main catches it there)
    from .cli import main

    early_interrupt.check()
except KeyboardInterrupt:
    print("tbx-tui: interrupted", file=sys.stderr, flush=True)
    os._exit(130)  # not sys.exit: CPython may make it death by SIGINT (see cli.main)

sys.exit(main())
