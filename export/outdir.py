"""Output folders that appear only when complete, the folder counterpart of `streamer.atomic`.

`prepare` writes a whole tree (train/, test/, a report). It is built in a hidden folder beside
the final one and renamed into place at the end; an existing folder is replaced only with
--force, and only by a finished tree, so an error or Ctrl-C leaves the user's folder as it was.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterable

from streamer.atomic import check_writable_parent, give_usual_mode, output_error_for
from streamer.errors import OutputError, OutputExistsError


def check_output_dir(output: str | os.PathLike, inputs: Iterable[str | os.PathLike] = (), force: bool = False) -> Path:
    """Validate an output folder before any work; OutputError with one line if it cannot work.

    Refused: a file of that name; a non-empty folder without `force`; a folder that is, contains
    or lies inside one of `inputs` (replacing it would delete or feed back into the input).
    """
    path = Path(output)
    if path.exists() and not path.is_dir():
        raise OutputError(f"output {path} exists and is not a folder")
    resolved = path.resolve()
    for given in inputs:
        source = Path(given).resolve()
        if resolved == source or source in resolved.parents or resolved in source.parents:
            raise OutputError(f"output folder {path} overlaps the input {given}; choose a folder outside it")
    if path.is_dir() and any(path.iterdir()) and not force:
        raise OutputExistsError(f"output folder {path} exists and is not empty")
    check_writable_parent(path)
    return path


class AtomicDir:
    """A hidden temporary folder beside `final`; on success it replaces `final` whole.

        with AtomicDir("faces") as tmp:
            write_tree_into(tmp)
    """

    def __init__(self, final: str | os.PathLike) -> None:
        self.final = Path(final)
        parent = self.final.parent if str(self.final.parent) else Path(".")
        try:
            self.path = Path(tempfile.mkdtemp(prefix=f".{self.final.name}.", suffix=".part", dir=parent))
        except OSError as exc:
            raise OutputError(f"cannot write {self.final}: {exc.strerror or exc}") from None
        give_usual_mode(self.path, 0o777)
        self._done = False

    def commit(self) -> Path:
        if self._done:
            return self.final
        old = None
        try:
            if self.final.exists():
                # Move the old tree aside first: rename cannot replace a non-empty folder.
                old = Path(tempfile.mkdtemp(prefix=f".{self.final.name}.", suffix=".old", dir=self.path.parent))
                os.rmdir(old)
                os.rename(self.final, old)
            os.rename(self.path, self.final)
        except OSError as exc:
            if old is not None and old.exists() and not self.final.exists():
                os.rename(old, self.final)  # put the user's folder back
            self.discard()
            raise OutputError(f"cannot write {self.final}: {exc.strerror or exc}") from None
        self._done = True
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        return self.final

    def discard(self) -> None:
        if not self._done:
            self._done = True
            shutil.rmtree(self.path, ignore_errors=True)

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
