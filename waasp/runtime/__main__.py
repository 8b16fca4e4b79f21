"""``python -m waasp.runtime``."""

from waasp.runtime.cli import main

main()
