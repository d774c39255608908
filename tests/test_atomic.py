"""Atomic outputs: a file or folder appears only when complete; a full disk is a clear OutputError."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from streamer.training.outdir import AtomicDir
from streamer.atomic import AtomicPath
from streamer.errors import OutputError

FULL_DEVICE = Path("/dev/full")  # Linux: every write to it fails with ENOSPC, a real full disk


def fill_the_disk() -> None:
    """Write as a report writer would, and get the kernel's own 'No space left on device'."""
    with open(FULL_DEVICE, "wb") as device:
        device.write(b"report" * 1000)


needs_full_device = pytest.mark.skipif(not FULL_DEVICE.exists(), reason="needs /dev/full (Linux)")


def entries(folder: Path) -> list[str]:
    return sorted(os.listdir(folder))


def test_atomic_path_appears_whole_or_not_at_all(tmp_path):
    target = tmp_path / "report.md"
    with AtomicPath(target) as temporary:
        temporary.write_text("done")
        assert not target.exists()
    assert target.read_text() == "done"

    with pytest.raises(RuntimeError):
        with AtomicPath(target) as temporary:
            temporary.write_text("half")
            raise RuntimeError("stopped midway")
    assert target.read_text() == "done"
    assert entries(tmp_path) == ["report.md"]


@needs_full_device
def test_full_disk_while_writing_a_file_is_an_output_error(tmp_path):
    target = tmp_path / "curves.png"
    target.write_text("the user's old file")
    with pytest.raises(OutputError, match=r"cannot write .*curves\.png: No space left on device"):
        with AtomicPath(target):
            fill_the_disk()
    assert target.read_text() == "the user's old file"
    assert entries(tmp_path) == ["curves.png"]


@needs_full_device
def test_full_disk_while_writing_a_folder_is_an_output_error(tmp_path):
    target = tmp_path / "evaluation"
    target.mkdir()
    (target / "report.md").write_text("old report")
    with pytest.raises(OutputError, match=r"cannot write .*evaluation: No space left on device"):
        with AtomicDir(target) as staging:
            (staging / "figures.json").write_text("{}")
            fill_the_disk()
    assert entries(target) == ["report.md"]
    assert entries(tmp_path) == ["evaluation"]


def test_other_os_errors_pass_through_unchanged(tmp_path):
    # A missing input read inside the block is not the output's fault: no OutputError for it.
    with pytest.raises(FileNotFoundError):
        with AtomicPath(tmp_path / "out.txt"):
            (tmp_path / "missing-input.png").read_bytes()
    with pytest.raises(FileNotFoundError):
        with AtomicDir(tmp_path / "out"):
            (tmp_path / "missing-input.png").read_bytes()
    assert entries(tmp_path) == []
