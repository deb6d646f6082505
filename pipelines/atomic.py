"""Crash-safe file replacement: a finished temporary file is renamed over its target."""

import os
from pathlib import Path


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def replace_with(tmp: Path, target: Path) -> None:
    """Make ``tmp`` durable, rename it over ``target`` (same folder) and make the rename durable.

    Readers see either the old file or the new one, never a mix; an open handle on the old file
    keeps reading the old contents.
    """
    _fsync(tmp)
    os.replace(tmp, target)
    _fsync(target.parent)
