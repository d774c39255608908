"""The one `streamer` command. Each subcommand lives in its own module with two functions:

    add_parser(subparsers) -> argparse.ArgumentParser   (sets `handler=run` as a default)
    run(args) -> int                                     (the exit code)

Modules are imported lazily per subcommand where they are heavy (TensorFlow lives only in
`streamer.training`). Errors: library code raises `StreamerError` subclasses; here they become one line
on stderr and a non-zero exit. Set STREAMER_DEBUG=1 to see tracebacks.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from typing import Sequence

from streamer import __version__
from streamer.errors import OutputExistsError, SettingError, StreamerError

# Order here is the order in `streamer --help`.
COMMAND_MODULES = (
    "streamer.commands.annotate",
    "streamer.commands.live",
    "streamer.commands.prepare",
    "streamer.commands.train",
    "streamer.commands.train_detector",
    "streamer.commands.evaluate",
    "streamer.commands.enroll",
    "streamer.commands.export",
    "streamer.commands.score",
    "streamer.commands.report",
    "streamer.commands.faces",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="streamer",
        description="Recognize anime characters in video, live sources and images.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    debug = bool(os.environ.get("STREAMER_DEBUG"))
    try:
        return int(args.handler(args) or 0)
    except StreamerError as exc:
        if debug:
            raise
        print(f"streamer: error: {_message(exc)}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("streamer: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 141
    except Exception as exc:  # noqa: BLE001 - the last line of defence: no traceback for users
        if debug:
            raise
        print(
            f"streamer: internal error: {type(exc).__name__}: {exc} (set STREAMER_DEBUG=1 for details)",
            file=sys.stderr,
        )
        return 70


def _message(exc: StreamerError) -> str:
    """The error's line as a command-line user reads it: flags, not the library's setting names."""
    if isinstance(exc, SettingError):
        from streamer.commands.options import flag_name

        return exc.render(flag_name)
    if isinstance(exc, OutputExistsError):
        return f"{exc}; pass --force to overwrite it"
    return str(exc)


if __name__ == "__main__":
    raise SystemExit(main())
