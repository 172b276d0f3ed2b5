"""Atomic file writes: a reader sees the old file or the new one, never half of one."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

__all__ = ["atomic_write", "atomic_write_text"]


def atomic_write(path: Path | str, write: Callable[[Path], None], *, suffix: str = ".tmp") -> Path:
    """Call ``write(tmp)`` on a file beside ``path``, then rename it over ``path``; return ``path``.

    ``suffix`` ends the temporary name (a writer that picks its format by the extension,
    like matplotlib's ``savefig``, needs ``.tmp.png``). The temporary file is removed if
    ``write`` fails.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + suffix)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def atomic_write_text(path: Path | str, text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically."""
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding=encoding))
