"""Subcommands of `python -m seeding` beyond seeding itself, one module each.

A module here defines `register(subparsers)`, which adds its parser(s) and sets
`handler=function(args, settings) -> int` with `set_defaults`. `seeding.cli` discovers the modules,
so adding a command means adding a file.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil


def register_all(subparsers: argparse._SubParsersAction) -> None:
    for module in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        importlib.import_module(f"{__name__}.{module.name}").register(subparsers)
