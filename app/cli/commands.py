"""The `fitboard` command: `serve` the dashboard, `run` a recipe in the terminal, `sync` a
spool of a run that never reached a server, `db upgrade`.

Settings come from `FITBOARD_*` environment variables (README: Configuration); a flag given
on the command line overrides its variable. `fitboard run` trains through the same
`RunManager` and database as the dashboard, so its runs appear there too.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from app.config import Settings

__all__ = ["build_parser", "main"]

# Exit statuses: settings or arguments refused (argparse's own), a run that failed, Ctrl-C.
EXIT_USAGE, EXIT_FAILED, EXIT_INTERRUPTED = 2, 1, 130
EXIT_BY_STATUS = {"completed": 0, "early_stopped": 0, "stopped": EXIT_INTERRUPTED}


class CommandError(Exception):
    """A refusal to report as one line on stderr with an exit status (no traceback)."""

    def __init__(self, message: str, status: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.status = status


# --- arguments ------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `fitboard` and its subcommands."""
    parser = argparse.ArgumentParser(
        prog="fitboard",
        description="Launch, watch and stop PyTorch training runs from a browser or a terminal.",
        epilog="Every setting is also read from its FITBOARD_* environment variable "
        "(see README.md, Configuration); a flag overrides the variable.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    storage = argparse.ArgumentParser(add_help=False)
    storage.add_argument(
        "--data-dir", help="directory for the database and runs (FITBOARD_DATA_DIR)"
    )
    storage.add_argument("--database-url", help="SQLAlchemy URL (FITBOARD_DATABASE_URL)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser(
        "serve",
        parents=[storage],
        help="start the dashboard",
        description=inspect.cleandoc(_serve.__doc__ or ""),
    )
    serve.add_argument("--host", help="interface to bind (FITBOARD_HOST, default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="TCP port (FITBOARD_PORT, default 8000)")
    serve.add_argument("--workers", type=int, help="runs that train at once (FITBOARD_WORKERS)")
    serve.add_argument(
        "--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"]
    )
    serve.set_defaults(handler=_serve)

    run = commands.add_parser(
        "run",
        parents=[storage],
        help="train a recipe in this terminal and store the run",
        description=inspect.cleandoc(_run.__doc__ or ""),
        epilog=_run_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument("recipe", metavar="RECIPE", help="recipe name, e.g. mlp or cnn")
    run.add_argument(
        "--set", dest="params", action="append", default=[], metavar="KEY=VALUE",
        help="a recipe parameter, e.g. --set lr=0.1 --set epochs=3 (repeatable)",
    )  # fmt: skip
    run.add_argument(
        "--callback", dest="callbacks", action="append", default=[], metavar="NAME[:K=V,...]",
        help="attach a catalog callback, e.g. --callback early_stopping:patience=2 (repeatable)",
    )  # fmt: skip
    run.add_argument("--name", help="the run's name in the dashboard")
    run.add_argument(
        "--server", default=os.environ.get("FITBOARD_URL"), metavar="URL",
        help="stream the run to the dashboard at URL (FITBOARD_URL) instead of writing the "
        "database: it is live in the browser, whose Stop ends it at the next batch",
    )  # fmt: skip
    run.set_defaults(handler=_run)

    sync = commands.add_parser(
        "sync",
        help="upload the spool of a run that could not reach the dashboard",
        description=inspect.cleandoc(_sync.__doc__ or ""),
    )
    sync.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="spool file or dir")
    sync.add_argument(
        "--server", default=os.environ.get("FITBOARD_URL"), metavar="URL",
        help="the dashboard (FITBOARD_URL)",
    )  # fmt: skip
    sync.set_defaults(handler=_sync)

    db = commands.add_parser("db", help="manage the database schema")
    db_commands = db.add_subparsers(dest="db_command", required=True, metavar="COMMAND")
    upgrade = db_commands.add_parser(
        "upgrade",
        parents=[storage],
        help="apply pending migrations",
        description=inspect.cleandoc(_upgrade.__doc__ or ""),
    )
    upgrade.set_defaults(handler=_upgrade)
    return parser


def parse_assignments(items: Sequence[str], what: str) -> dict[str, str]:
    """`["lr=0.1", "epochs=3"]` -> `{"lr": "0.1", "epochs": "3"}`; pydantic converts the text."""
    values: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise CommandError(f"{what}: expected KEY=VALUE, got {item!r}")
        values[key.strip()] = value.strip()
    return values


def parse_callback(text: str) -> tuple[str, dict[str, str]]:
    """`"early_stopping:patience=2,monitor=valid_loss"` -> (name, params)."""
    name, _, rest = text.partition(":")
    pairs = [pair for pair in rest.split(",") if pair.strip()]
    return name.strip(), parse_assignments(pairs, f"--callback {name.strip()}")


def _settings(args: argparse.Namespace, **flags: Any) -> Settings:
    """Settings from the environment with the flags that were given on top."""
    overrides = {"data_dir": args.data_dir, "database_url": args.database_url, **flags}
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        lines = [
            f"  {_env_name(e['loc'])}: {e['msg'].removeprefix('Value error, ')}"
            for e in exc.errors()
        ]
        raise CommandError("invalid settings:\n" + "\n".join(lines)) from None


def _load_user_modules(settings: Settings) -> None:
    """The settings' recipe and callback modules, or a one-line CommandError naming the one
    that fails (to import, or to register anything)."""
    from app.catalog import RegistryError, load_user_modules

    try:
        load_user_modules(settings.recipe_modules, settings.callback_modules)
    except RegistryError as exc:
        raise CommandError(str(exc), EXIT_FAILED) from None


# --- commands -------------------------------------------------------------------------------


def _serve(args: argparse.Namespace) -> int:
    """Start the dashboard (uvicorn) on the configured host and port; Ctrl-C stops it,
    recording its running runs as interrupted (a `fitboard run` beside it is left alone)."""
    settings = _settings(args, host=args.host, port=args.port, workers=args.workers)
    _load_user_modules(settings)  # a bad module is refused before "serving on"
    import uvicorn  # after the settings check: a refusal should not wait for these imports

    from app.main import SERVER_OPTIONS, create_app

    print(f"fitboard: serving on http://{_url_host(settings.host)}:{settings.port}", flush=True)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=args.log_level,
        **SERVER_OPTIONS,
    )
    return 0


def _run(args: argparse.Namespace) -> int:
    """Train RECIPE in this terminal with a progress bar, storing the run in the dashboard's
    database (it appears in the dashboard's list). Ctrl-C stops the run at the next batch;
    a second Ctrl-C quits without waiting for the run's last messages."""
    settings = _settings(args)
    params = parse_assignments(args.params, "--set")
    callbacks = [parse_callback(text) for text in args.callbacks]
    _load_user_modules(settings)
    from app.cli.terminal import explain, train_in_terminal
    from app.runs import InvalidRequest

    try:
        if args.server:
            from app.cli.remote import train_reporting

            status = train_reporting(
                settings, args.server, args.recipe, params, callbacks, args.name, sys.stdout
            )
        else:
            status = asyncio.run(
                train_in_terminal(settings, args.recipe, params, callbacks, args.name, sys.stdout)
            )
    except InvalidRequest as exc:
        raise CommandError(explain(exc)) from None
    return EXIT_BY_STATUS.get(status, EXIT_FAILED)


def _sync(args: argparse.Namespace) -> int:
    """Upload spool files (`~/.cache/fitboard/spool/*.jsonl`) of runs whose
    `DashboardCallback` could not reach the dashboard, with their original seq and time: the
    run's history on the server is the one the script recorded."""
    if not args.server:
        raise CommandError("give the dashboard's URL: --server URL or FITBOARD_URL")
    from app.cli.remote import sync_spools

    token = os.environ.get("FITBOARD_TOKEN")
    failed = sync_spools(args.paths, args.server, token, sys.stdout)
    return EXIT_FAILED if failed else 0


def _upgrade(args: argparse.Namespace) -> int:
    """Create the database or bring its schema to this version's newest revision."""
    from sqlalchemy.engine import make_url

    from app.db import init_db, make_engine
    from app.db.migrations import current

    settings = _settings(args)
    assert settings.database_url is not None  # Settings fills in the SQLite default
    engine = make_engine(settings.database_url)
    try:
        init_db(engine)
        revision = current(engine)
    finally:
        engine.dispose()
    shown = make_url(settings.database_url).render_as_string(hide_password=True)
    print(f"fitboard: {shown} is at revision {revision}")
    return 0


# --- help text ------------------------------------------------------------------------------


def _run_epilog() -> str:
    """The recipes and callbacks with their parameters, for `fitboard run --help`."""
    from app.catalog import callback_catalog, recipe_registry

    lines = ["recipes (and those of FITBOARD_RECIPE_MODULES):"]
    for item in recipe_registry.describe():
        lines += [f"  {item['name']}: {item['description']}", *_param_lines(item["params_schema"])]
    lines.append("\ncallbacks (--callback NAME:KEY=VALUE,...):")
    for item in callback_catalog.describe():
        lines += [f"  {item['name']}: {item['description']}", *_param_lines(item["params_schema"])]
    lines.append("\nexample:\n  fitboard run cnn --set lr=0.3 --callback time_limit:seconds=60")
    return "\n".join(lines)


def _param_lines(schema: dict[str, Any]) -> list[str]:
    lines = []
    for name, prop in schema.get("properties", {}).items():
        choices = prop.get("enum") or [
            p.get("const") for p in prop.get("anyOf", []) if "const" in p
        ]
        bounds = [
            f"{word} {prop[key]}"
            for key, word in [("minimum", ">="), ("exclusiveMinimum", ">"),
                              ("maximum", "<="), ("exclusiveMaximum", "<")]
            if key in prop
        ]  # fmt: skip
        detail = ", ".join(
            [*(["one of " + "|".join(map(str, choices))] if choices else []), *bounds]
        )
        if "default" not in prop:
            default = " (required)"
        else:
            default = "" if prop["default"] is None else f"={prop['default']}"
        lines.append(f"      {name}{default}" + (f"  [{detail}]" if detail else ""))
    return lines


def _env_name(loc: tuple[Any, ...]) -> str:
    return f"FITBOARD_{str(loc[0]).upper()}" if loc else "settings"


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("fitboard")
    except PackageNotFoundError:
        return "(source tree)"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `fitboard` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args))
    except CommandError as exc:
        print(f"fitboard: {exc}", file=sys.stderr)
        return exc.status
