"""Helpers shared by the command modules of `keras-mlsec`."""

import sys


def usage_error(command, message):
    """Prints a one-line usage error for `keras-mlsec COMMAND` and returns exit status 2."""
    print(f"keras-mlsec {command}: error: {message}", file=sys.stderr)
    return 2
