"""What the database can keep: text without NUL characters or lone surrogates, and JSON numbers.

PostgreSQL refuses a NUL in text and in JSON, and a lone UTF-16 surrogate ("\\ud800", which
Python's JSON parser lets through) cannot even be encoded as UTF-8; Python's parser also
accepts NaN and Infinity, which JSON cannot carry back out. Each would fail deep in a write
(a 500) or in the response. Request bodies are checked here first, so the client gets a 422
naming the field instead.
"""

from __future__ import annotations

import math
import re
from typing import Any

from pydantic import ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError

__all__ = ["MAX_JSON_DEPTH", "storable_json", "storable_text", "text_problem"]

MAX_JSON_DEPTH = 32  # parameters are flat objects; this only stops pathological nesting
_MAX_ERRORS = 20  # enough to point at the problem; the 422 lists no more anyway
_SURROGATE = re.compile("[\ud800-\udfff]")


def text_problem(text: str) -> str | None:
    """Why `text` cannot be stored, or None when it can."""
    if "\x00" in text:
        return "must not contain NUL characters (\\u0000)"
    if _SURROGATE.search(text):
        return "must not contain lone surrogates (\\ud800-\\udfff)"
    return None


def _error(loc: tuple[str | int, ...], message: str, value: Any) -> InitErrorDetails:
    return InitErrorDetails(
        type=PydanticCustomError("unstorable_value", message), loc=loc, input=value
    )


def storable_text(text: str) -> str:
    """A pydantic after-validator: `text`, refused when the database cannot store it."""
    problem = text_problem(text)
    if problem is not None:
        raise PydanticCustomError("unstorable_value", f"text {problem}")
    return text


def storable_json(value: Any) -> Any:
    """A pydantic after-validator for a JSON object: `value`, refused (with the location of
    each offending key, string or number) when the database cannot store all of it."""
    errors: list[InitErrorDetails] = []
    pending: list[tuple[tuple[str | int, ...], Any]] = [((), value)]  # no recursion: any depth
    while pending and len(errors) < _MAX_ERRORS:
        loc, item = pending.pop()
        if len(loc) > MAX_JSON_DEPTH:
            errors.append(_error(loc[:MAX_JSON_DEPTH], f"nested deeper than {MAX_JSON_DEPTH}", {}))
        elif isinstance(item, str):
            problem = text_problem(item)
            if problem is not None:
                errors.append(_error(loc, f"text {problem}", item))
        elif isinstance(item, float) and not math.isfinite(item):
            errors.append(
                _error(loc, "must be a finite number (JSON has no NaN or Infinity)", item)
            )
        elif isinstance(item, dict):
            for key, child in reversed(item.items()):
                problem = text_problem(key)
                if problem is not None:
                    shown = _SURROGATE.sub("\ufffd", key.replace("\x00", "\ufffd"))
                    errors.append(_error((*loc, shown), f"key {problem}", shown))
                else:
                    pending.append(((*loc, key), child))
        elif isinstance(item, list):
            pending.extend(
                ((*loc, index), child) for index, child in reversed(list(enumerate(item)))
            )
    if errors:
        raise ValidationError.from_exception_data("unstorable value", errors)
    return value
