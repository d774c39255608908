"""`streamer train` (not implemented yet)."""

from __future__ import annotations

import argparse

from streamer.errors import UsageError


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser("train", help="(not implemented yet)")
    parser.set_defaults(handler=run)
    return parser


def run(args: argparse.Namespace) -> int:
    raise UsageError("`streamer train` is not implemented yet")
