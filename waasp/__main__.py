"""``python -m waasp``: the command line."""

import sys

from waasp.cli import main

sys.exit(main())
