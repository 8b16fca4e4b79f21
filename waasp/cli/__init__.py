"""The ``waasp`` command line: argparse subcommands, one function each.

``main`` parses and reports errors; ``whitelist`` holds the commands on contacts and the
audit trail, ``instance`` those that run or find a WAASP instance; ``common`` what they share.
"""

from waasp.cli.main import main

__all__ = ["main"]
