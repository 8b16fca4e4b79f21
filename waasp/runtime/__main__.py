"""``python -m waasp.runtime``."""

from waasp.runtime.cli.main import main

main()
