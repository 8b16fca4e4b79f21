"""The command line, ``python -m waasp.runtime``."""
