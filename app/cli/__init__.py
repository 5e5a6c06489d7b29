"""The `fitboard` command line: `serve`, `run`, `db upgrade`."""

from app.cli.commands import build_parser, main

__all__ = ["build_parser", "main"]
