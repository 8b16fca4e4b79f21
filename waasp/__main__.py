"""``python -m waasp``: the command line."""

import sys

try:
    # First, before the command line's many imports, during which a Ctrl-C could be lost.
    from waasp.interrupts import note_interrupts

    note_interrupts()
    from waasp.cli import main
except KeyboardInterrupt:  # Ctrl-C while the command line was still loading
    sys.exit(130)

sys.exit(main())
