"""`keras-mlsec` command line: demo | evaluate | keygen | sign | verify | scan | bom | log.

Each capability registers its own sub-commands: a module listed in
`_COMMAND_MODULES` exposes `register(subparsers)`, which adds parsers whose
`func(args)` returns the process exit status.
"""

import argparse
import importlib
import os

_COMMAND_MODULES = (
    "keras_mlsec.cli.evaluate",
    "keras_mlsec.cli.integrity",
    "keras_mlsec.cli.governance",
)


def build_parser():
    """Builds the argument parser with every available sub-command."""
    parser = argparse.ArgumentParser(
        prog="keras-mlsec",
        description="Security checks for Keras models: attacks, robustness, integrity.")
    parser.add_argument("--version", action="version",
                        version=f"keras-mlsec {importlib.import_module('keras_mlsec').__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as error:
            if error.name != name:
                raise
            continue
        module.register(subparsers)
    return parser


def main(argv=None):
    """Entry point of the `keras-mlsec` console script; returns the exit status."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 2
    return int(args.func(args) or 0)

