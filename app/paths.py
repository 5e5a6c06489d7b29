"""Where the browser assets live: inside the installed package (wheel) or at the top of a
source checkout (`pip install -e .`)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["STATIC_DIR", "TEMPLATES_DIR"]

_PACKAGE_DIR = Path(__file__).resolve().parent


def _asset_dir(name: str) -> Path:
    """The wheel puts `static/` and `templates/` inside `app/`; a checkout keeps them beside it."""
    packaged = _PACKAGE_DIR / name
    return packaged if packaged.is_dir() else _PACKAGE_DIR.parent / name


STATIC_DIR = _asset_dir("static")
TEMPLATES_DIR = _asset_dir("templates")
