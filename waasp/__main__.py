"""``python -m waasp``: the command line."""

import sys

try:
    from waasp.cli import main
except KeyboardInterrupt:  # Ctrl-C while the command line was still loading
    sys.exit(130)

sys.exit(main())
