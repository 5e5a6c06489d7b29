"""fitboard's settings: one typed place, read from `FITBOARD_*` environment variables.

Every field is documented in README.md's Configuration table (a test keeps them in step).
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

__all__ = [
    "MIN_TOKEN_LENGTH",
    "Settings",
    "default_workers",
    "get_settings",
    "is_loopback",
    "usable_cores",
]

# A token is the only thing between the network and "run this training job": make it unguessable.
MIN_TOKEN_LENGTH = 16
_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}")
# A DNS name or IPv4 address (letters, digits, dots, hyphens), or a bracketed IPv6 address.
_HOST_NAME = re.compile(r"[a-z0-9_]([a-z0-9_.-]{0,251}[a-z0-9_])?|\[[0-9a-f:.]+\]")


def usable_cores() -> int:
    """CPU cores this process may run on (honours taskset/cgroup affinity where the OS says)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def default_workers() -> int:
    """Half the usable cores, at least one: each run trains on `torch_threads` threads and the
    event loop, the database and the browsers need a core too (1 on a 2-core machine)."""
    return max(1, usable_cores() // 2)


def is_loopback(host: str) -> bool:
    """Whether `host` (a name or an address, IPv6 in brackets or not) is this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:  # a host name other than localhost may resolve to anything
        return False


def _split_list(value: Any) -> Any:
    """Accept a JSON list (`["a","b"]`) or a comma-separated string (`a,b`) from the environment."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                return json.loads(text)
            except ValueError:
                pass  # not JSON: a list that starts with an IPv6 host, `[::1],example.org`
        return [item.strip() for item in text.split(",") if item.strip()]
    return value


class Settings(BaseSettings):
    """fitboard's configuration. Each field `name` is read from `FITBOARD_<NAME>`."""

    model_config = SettingsConfigDict(
        env_prefix="FITBOARD_",
        extra="forbid",
        validate_default=True,
        frozen=True,
        hide_input_in_errors=True,  # never echo a token back in an error message
    )

    data_dir: Path = Field(
        default=Path("./fitboard-data"),
        description="Directory for the SQLite database, run directories and checkpoints.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the database; unset means SQLite at "
        "`<data_dir>/fitboard.db`.",
    )
    host: str = Field(
        default="127.0.0.1",
        description="Interface `fitboard serve` binds to. Anything but loopback needs a token.",
    )
    port: int = Field(
        default=8000, ge=1, le=65535, description="TCP port `fitboard serve` listens on."
    )
    workers: int = Field(
        default_factory=default_workers,
        ge=1,
        le=64,
        description="Runs that train at the same time; more wait in a queue. "
        "Default: half the CPU cores, at least 1.",
    )
    backend: Literal["threads", "ray"] = Field(
        default="threads",
        description="Where runs execute: `threads`, worker threads of the server's process; "
        "`ray`, one Ray actor per run (`pip install 'fitboard[ray]'`).",
    )
    ray_address: str | None = Field(
        default=None,
        description="With FITBOARD_BACKEND=ray: the cluster to join as a driver (`auto`, or "
        "`host:port` of its head); unset starts a local Ray instance in the server's process.",
    )
    run_cpus: float = Field(
        default=1.0,
        ge=0,
        le=1024,
        description="CPUs a run asks for when its request does not say (Ray places it where "
        "they are free).",
    )
    run_gpus: float = Field(
        default=0.0,
        ge=0,
        le=64,
        description="GPUs a run asks for when its request does not say (fractions share one).",
    )
    storage: Path | None = Field(
        default=None,
        description="Directory of the runs' directories and checkpoints; unset means "
        "`<data_dir>`. On a Ray cluster every node must reach it at this path (a shared mount).",
    )
    pause_timeout_s: float = Field(
        default=86_400,
        gt=0,
        le=30 * 86_400,
        description="Seconds a paused run may hold its worker; then it stops and becomes "
        "interrupted (resumable from its newest checkpoint). Default: 24 hours.",
    )
    token: SecretStr | None = Field(
        default=None,
        description="Bearer token every API call and WebSocket must carry; unset means no "
        f"authentication (loopback only). At least {MIN_TOKEN_LENGTH} characters.",
    )
    allowed_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Extra origins whose browsers may open WebSockets and call the API "
        "(comma-separated or a JSON list). Origins on an allowed host (loopback, "
        "FITBOARD_ALLOWED_HOSTS) are always allowed; each one's host becomes an allowed host.",
    )
    allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Extra host names (the Host header, without port) the server answers to "
        "(comma-separated or a JSON list; `*` for any). Loopback names, the bound address and "
        "the hosts of FITBOARD_ALLOWED_ORIGINS are always allowed; other Hosts get 400.",
    )
    max_body_bytes: int = Field(
        default=1_048_576,
        ge=1024,
        le=1_073_741_824,
        description="Largest request body accepted, in bytes; a larger one gets 413.",
    )
    recipe_modules: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Python modules (dotted import paths, comma-separated) imported at start-up "
        "to register your own recipes.",
    )
    callback_modules: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Python modules (dotted import paths, comma-separated) imported at start-up "
        "to register your own attachable callbacks.",
    )
    datasets_dir: Path | None = Field(
        default=None,
        description="The only directory a recipe may read local dataset files (MNIST) from; "
        "unset means `<data_dir>/datasets`.",
    )
    torch_threads: int = Field(
        default=1,
        ge=1,
        le=256,
        description="Intra-op threads per run (torch.set_num_threads). 1 is fastest on a "
        "shared machine; raise it for one run on many cores.",
    )
    allow_unauthenticated: bool = Field(
        default=False,
        description="Permit binding to a non-loopback host without a token (only behind a proxy "
        "that authenticates).",
    )
    heartbeat_timeout_s: float = Field(
        default=30.0,
        gt=0,
        le=3600,
        description="Seconds an external run's client may go unheard (no report, no heartbeat) "
        "before the run becomes interrupted.",
    )

    @field_validator(
        "allowed_origins", "allowed_hosts", "recipe_modules", "callback_modules", mode="before"
    )
    @classmethod
    def _parse_list(cls, value: Any) -> Any:
        return _split_list(value)

    @field_validator("allowed_origins")
    @classmethod
    def _check_origins(cls, origins: list[str]) -> list[str]:
        for origin in origins:
            if origin != "*" and not origin.startswith(("http://", "https://")):
                raise ValueError(f"origin {origin!r} must start with http:// or https://")
        return [origin.rstrip("/") for origin in origins]

    @field_validator("allowed_hosts")
    @classmethod
    def _check_hosts(cls, hosts: list[str]) -> list[str]:
        checked = []
        for host in hosts:
            name = host.strip().lower()
            if name != "*" and not _HOST_NAME.fullmatch(name):
                raise ValueError(
                    f"host {host!r} must be a host name or address without scheme, port or "
                    "path, e.g. fitboard.example.com"
                )
            checked.append(name)
        return checked

    @field_validator("recipe_modules", "callback_modules")
    @classmethod
    def _check_module_paths(cls, modules: list[str]) -> list[str]:
        for module in modules:
            if not all(part.isidentifier() for part in module.split(".")):
                raise ValueError(f"{module!r} is not a dotted Python module path")
        return modules

    @field_validator("token")
    @classmethod
    def _check_token(cls, token: SecretStr | None) -> SecretStr | None:
        if token is not None and len(token.get_secret_value()) < MIN_TOKEN_LENGTH:
            raise ValueError(
                f"must be at least {MIN_TOKEN_LENGTH} characters; generate one with "
                "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`"
            )
        return token

    @model_validator(mode="after")
    def _resolve_and_refuse_unsafe(self) -> Settings:
        # Absolute paths: a later chdir (or a CLI started elsewhere) must not move the data.
        data_dir = self.data_dir.expanduser().resolve()
        object.__setattr__(self, "data_dir", data_dir)
        datasets_dir = (self.datasets_dir or data_dir / "datasets").expanduser().resolve()
        object.__setattr__(self, "datasets_dir", datasets_dir)
        object.__setattr__(self, "storage", (self.storage or data_dir).expanduser().resolve())
        if self.database_url is None:
            object.__setattr__(self, "database_url", f"sqlite:///{data_dir / 'fitboard.db'}")
        if not is_loopback(self.host) and self.token is None and not self.allow_unauthenticated:
            raise ValueError(
                f"host {self.host!r} exposes fitboard beyond this machine without a token: "
                "set FITBOARD_TOKEN, bind to 127.0.0.1, or (behind an authenticating proxy) set "
                "FITBOARD_ALLOW_UNAUTHENTICATED=true"
            )
        return self

    @property
    def runs_dir(self) -> Path:
        """Parent of every run's directory (checkpoints live in `runs_dir / <run id>`)."""
        assert self.storage is not None  # resolved by the validator
        return self.storage / "runs"

    def run_dir(self, run_id: str) -> Path:
        """The directory of one run (`runs_dir / run_id`); refuses ids that are not one plain
        path segment, so no id can point outside `runs_dir`."""
        if not _RUN_ID.fullmatch(run_id):
            raise ValueError(f"run id {run_id!r} is not a plain name")
        return self.runs_dir / run_id


@lru_cache
def get_settings() -> Settings:
    """The process's settings, read once from the environment (`get_settings.cache_clear()`
    re-reads them)."""
    return Settings()
