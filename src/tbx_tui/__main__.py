import sys

try:  # Ctrl+C while the modules load: one line, as later (cli.main catches it there)
    from .cli import main
except KeyboardInterrupt:
    print("tbx-tui: interrupted", file=sys.stderr)
    sys.exit(130)

sys.exit(main())
