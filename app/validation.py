"""The one place a client's run and callback parameters are checked.

Errors come back as `InvalidRequest`, pydantic-style, with `loc` counted from the top of the
request body (`["body", "callbacks", 0, "params", "patience"]`): the API answers 422 with
them unchanged.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from app.catalog import UnknownCallbackError, catalog
from app.recipes import RecipeRegistry, UnknownRecipeError

__all__ = ["InvalidRequest", "check_callback", "check_callbacks", "check_run_params"]

Loc = tuple[str | int, ...]


class InvalidRequest(ValueError):
    """Parameters that fail validation; `errors` are pydantic-style, `loc` from the body."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors))

    @classmethod
    def at(cls, loc: Loc, message: str) -> InvalidRequest:
        """One error at `loc`."""
        return cls([{"type": "value_error", "loc": list(loc), "msg": message}])

    @classmethod
    def from_validation(cls, exc: ValidationError, prefix: Loc) -> InvalidRequest:
        """pydantic's errors, their `loc` prefixed with where the model sits in the body."""
        errors = [
            {"type": e["type"], "loc": [*prefix, *e["loc"]], "msg": e["msg"]} for e in exc.errors()
        ]
        return cls(errors)


def check_run_params(
    recipes: RecipeRegistry, recipe: str, params: dict[str, Any], datasets_dir: Path | None
) -> dict[str, Any]:
    """The recipe's parameters, validated and with their defaults, as plain JSON."""
    try:
        valid = recipes.validate_params(recipe, params, datasets_dir=datasets_dir)
    except UnknownRecipeError as exc:
        raise InvalidRequest.at(("body", "recipe"), str(exc)) from None
    except ValidationError as exc:
        raise InvalidRequest.from_validation(exc, ("body", "params")) from None
    return valid.model_dump(mode="json")


def check_callback(
    recipes: RecipeRegistry, recipe: str, name: str, params: dict[str, Any], at: Loc
) -> dict[str, Any]:
    """A catalog callback's parameters for a run of `recipe` (a `monitor` must be one of the
    recipe's statistics), validated, as plain JSON; `at` is where it sits in the body."""
    try:
        valid = catalog.validate_params(name, params, monitors=recipes.get(recipe).monitors)
    except UnknownCallbackError as exc:
        raise InvalidRequest.at((*at, "name"), str(exc)) from None
    except ValidationError as exc:
        raise InvalidRequest.from_validation(exc, (*at, "params")) from None
    return valid.model_dump(mode="json")


def check_callbacks(
    recipes: RecipeRegistry, recipe: str, callbacks: list[tuple[str, dict[str, Any]]]
) -> list[tuple[str, dict[str, Any]]]:
    """Every callback of a run request checked; one InvalidRequest listing all the bad ones."""
    errors: list[dict[str, Any]] = []
    checked = []
    for index, (name, params) in enumerate(callbacks):
        try:
            at = ("body", "callbacks", index)
            checked.append((name, check_callback(recipes, recipe, name, params, at)))
        except InvalidRequest as exc:
            errors += exc.errors
    if errors:
        raise InvalidRequest(errors)
    return checked
