"""The callbacks a dashboard may attach to a client's Runner: by name from a fixed table,
with parameters checked against the builder's signature; anything else is refused."""

from __future__ import annotations

import pytest

from trainer import EarlyStopping, ParamScheduler, TimeLimit
from trainer.reporting.catalog import ATTACHABLE, CallbackRefused, build_attachable


def test_a_known_name_builds_its_callback_with_the_params_given() -> None:
    stopping = build_attachable("early_stopping", {"patience": 2, "min_delta": 1})
    assert isinstance(stopping, EarlyStopping)
    assert (stopping.patience, stopping.min_delta, stopping.monitor) == (2, 1, "valid_loss")
    assert isinstance(build_attachable("time_limit", {"seconds": 5}), TimeLimit)
    assert isinstance(build_attachable("lr_schedule", {"kind": "cosine"}), ParamScheduler)


@pytest.mark.parametrize(
    ("name", "params", "why"),
    [
        ("os.system", {}, "cannot be attached here"),
        ("__import__", {"name": "os"}, "cannot be attached here"),
        ("early_stopping", {"patience": "2"}, "patience must be of type int"),
        ("early_stopping", {"patience": True}, "patience must be of type int"),
        ("early_stopping", {"callback": "print"}, "unknown parameter 'callback'"),
        ("time_limit", {"seconds": [1]}, "seconds must be of type float"),
        ("early_stopping", {"patience": -1}, "patience and min_delta must be >= 0"),
        ("lr_schedule", {"kind": "sawtooth"}, "unknown schedule kind"),
    ],
)
def test_anything_else_is_refused_with_a_reason(name: str, params: dict, why: str) -> None:
    with pytest.raises(CallbackRefused, match=why):
        build_attachable(name, params)


def test_the_table_holds_the_server_catalogs_names_a_client_can_run() -> None:
    from app.catalog import callback_catalog

    # checkpoint writes server-side files; lr_find sweeps a whole fit, so it never joins one.
    assert set(ATTACHABLE) == set(callback_catalog.names()) - {"checkpoint", "lr_find"}
