"""Outputs appear only when complete: write under a hidden temporary name, rename at the end.

Used by every writer (MP4, sidecar, reports), so an error or Ctrl-C never leaves a
half-written file under the name the user asked for, and an existing file is replaced only
by a finished one.
"""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path
from typing import Iterable

from streamer.errors import OutputError, OutputExistsError


def check_output_path(
    output: str | os.PathLike,
    inputs: Iterable[str | os.PathLike] = (),
    force: bool = True,
) -> Path:
    """Validate an output path before any work starts; OutputError with one line if it cannot work."""
    path = Path(output)
    if path.is_dir():
        raise OutputError(f"output {path} is a directory")
    for given in inputs:
        if given is not None and _same_file(path, Path(given)):
            raise OutputError(f"output {path} is the same file as the input; choose another name")
    if not force and path.exists():
        raise OutputExistsError(f"output {path} exists")
    check_writable_parent(path)
    return path


def check_writable_parent(path: Path) -> None:
    """OutputError unless `path`'s folder exists and new entries can be made in it."""
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise OutputError(f"cannot write {path}: folder {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write {path}: folder {parent} is not writable")


# Errors that say the disk refused the bytes, whatever wrote them (a report, a plot, a model):
# they mean "cannot write the output", so they become an OutputError, not an internal error.
# Other OSErrors inside the block may be about an input and pass through unchanged.
DISK_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS})


def output_error_for(final: Path, exc: BaseException | None) -> OutputError | None:
    """The OutputError to raise for `exc`, raised while writing `final`, if it is a disk error."""
    if isinstance(exc, OSError) and exc.errno in DISK_ERRNOS:
        return OutputError(f"cannot write {final}: {exc.strerror or exc}")
    return None


def give_usual_mode(path: str | os.PathLike, bits: int) -> None:
    """mkstemp/mkdtemp make private entries; a finished output gets `bits` minus the umask."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, bits & ~umask)


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


class AtomicPath:
    """A temporary path beside `final`; `commit()` renames it into place, `discard()` removes it.

    As a context manager: commits when the block ends normally, discards on any exception
    (KeyboardInterrupt included).

        with AtomicPath("out.mp4") as tmp:
            write_everything_to(tmp)
    """

    def __init__(self, final: str | os.PathLike) -> None:
        self.final = Path(final)
        parent = self.final.parent if str(self.final.parent) else Path(".")
        try:
            handle, name = tempfile.mkstemp(prefix=f".{self.final.stem}.", suffix=f".part{self.final.suffix}", dir=parent)
        except OSError as exc:
            raise OutputError(f"cannot write {self.final}: {exc.strerror or exc}") from None
        os.close(handle)
        give_usual_mode(name, 0o666)
        self.path = Path(name)
        self._done = False

    def commit(self) -> Path:
        if not self._done:
            try:
                os.replace(self.path, self.final)
            except OSError as exc:
                self.discard()
                raise OutputError(f"cannot write {self.final}: {exc.strerror or exc}") from None
            self._done = True
        return self.final

    def discard(self) -> None:
        if not self._done:
            self._done = True
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass

    def __enter__(self) -> Path:
        return self.path

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.commit()
            return
        self.discard()
        error = output_error_for(self.final, exc)
        if error is not None:
            raise error from None
