"""Schemathesis against a real server: the requests it generates from /openapi.json (valid and
invalid ones, unexpected methods, missing fields, a few stateful sequences) never get a 5xx,
and every response matches what the schema documents (status code, content type, body)."""

from __future__ import annotations

import collections
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis.configuration import set_hypothesis_home_dir
from schemathesis.engine import events

from tests.fixtures.server import LiveServer

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

TOKEN = "s3cret-token-for-tests-0123456789"
MAX_EXAMPLES = 25  # per operation and phase: 700-900 requests a run, 15-30 s
MIN_REQUESTS = 500  # each of the two runs; together more than 1,000
CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
    "negative_data_rejection",
    "missing_required_header",
    "unsupported_method",
    "allow_header_conformance",
    "use_after_free",
    "ensure_resource_availability",
    # Not `positive_data_acceptance`: `params` is a free JSON object whose fields depend on
    # the recipe named beside it (each recipe's schema is in GET /api/recipes), so most
    # schema-valid bodies are rightly 422s.
]


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """The schema is under test, not the database: SQLite only."""
    return f"sqlite:///{tmp_path / 'fitboard.db'}"


@pytest.fixture(autouse=True)
def _hypothesis_home(tmp_path: Path) -> Iterator[None]:
    """Hypothesis keeps caches in ./.hypothesis by default: not in the working tree."""
    set_hypothesis_home_dir(tmp_path / "hypothesis")
    yield
    set_hypothesis_home_dir(None)


@dataclass
class FuzzResult:
    """What one schemathesis run sent and what it found."""

    requests: int = 0
    statuses: collections.Counter[int] = field(default_factory=collections.Counter)
    failures: list[str] = field(default_factory=list)


def _fuzz(server: LiveServer, headers: dict[str, str]) -> FuzzResult:
    schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json", headers=headers)
    schema.config.update(base_url=server.url, headers=headers, continue_on_failure=True)
    schema.config.generation.update(max_examples=MAX_EXAMPLES, deterministic=True)
    schema.config.checks.update(included_check_names=CHECKS)
    result = FuzzResult()
    for event in schemathesis.engine.from_schema(schema).execute():
        if isinstance(event, events.NonFatalError | events.FatalError):
            result.failures.append(f"{type(event).__name__}: {event}")
        if not isinstance(event, events.ScenarioFinished):
            continue
        for interaction in event.recorder.interactions.values():
            result.requests += 1
            if interaction.response is None:
                result.failures.append(f"{event.label}: no response")
            else:
                result.statuses[interaction.response.status_code] += 1
        for checks in event.recorder.checks.values():
            for check in checks:
                if check.failure_info is not None:
                    result.failures.append(f"{event.label}: {check.name}: {_said(check)}")
    return result


def _said(check: Any) -> str:
    """One line per failed check: what schemathesis found, and the request to reproduce it."""
    info = check.failure_info
    failure = info.failure
    first_line = (getattr(failure, "message", "") or "").strip().splitlines()[:1]
    return f"{failure.title}: {' '.join(first_line)} -- {info.code_sample}"


@pytest.mark.parametrize("token", [None, TOKEN], ids=["anonymous", "token"])
def test_generated_requests_get_no_5xx_and_match_the_schema(
    server_factory: Callable[..., LiveServer], token: str | None
) -> None:
    server = server_factory(workers=1, **({"token": token} if token else {}))
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    result = _fuzz(server, headers)
    print(f"schemathesis: {result.requests} requests, statuses {dict(result.statuses)}")
    assert result.requests >= MIN_REQUESTS, result
    assert not [status for status in result.statuses if status >= 500], result.statuses
    assert result.failures == [], "\n".join(result.failures[:20])
