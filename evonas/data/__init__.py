"""Data shipped inside the package (tables and a small image sample); built by ``evonas.builders``."""
from __future__ import annotations

from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent

__all__ = ["DATA_DIR"]
