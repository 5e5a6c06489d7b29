"""Recipes: validated, bounded parameters; built-ins that learn; user modules by name."""

import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from pydantic import ValidationError

from app.catalog import (
    MLPParams,
    RecipeRegistry,
    RegistryError,
    TrainParams,
    UnknownEntryError,
    load_modules,
    recipe_registry,
)
from trainer import AvgStatsCallback, Learner, Runner, accuracy

torch.set_num_threads(1)
README = Path(__file__).resolve().parents[3] / "README.md"


def _fit(name: str, **params) -> dict[str, float]:
    """Train recipe `name` and return the last epoch's validation stats."""
    validated = recipe_registry.validate_params(name, params)
    learn = recipe_registry.build(name, validated)
    run = Runner(cbs=[AvgStatsCallback([accuracy], verbose=False)])
    run.fit(validated.epochs, learn)
    return run.epoch_stats["valid"]


def _error_locs(excinfo) -> list[tuple]:
    return [error["loc"] for error in excinfo.value.errors()]


# --- the built-ins -------------------------------------------------------------------------


def test_builtins_are_listed_with_schemas_default_first():
    described = recipe_registry.describe()
    assert [item["name"] for item in described][:2] == ["mlp", "cnn"]
    assert described[0]["default"] is True and not any(d["default"] for d in described[1:])
    lr = described[0]["params_schema"]["properties"]["lr"]
    assert lr["exclusiveMinimum"] == 0 and lr["maximum"] == 10
    epochs = described[1]["params_schema"]["properties"]["epochs"]
    assert (epochs["minimum"], epochs["maximum"]) == (1, 100)
    assert described[0]["params_schema"]["additionalProperties"] is False
    assert described[0]["metrics"] == ["accuracy"]


@pytest.mark.parametrize(("name", "epochs"), [("mlp", 2), ("cnn", 3)])
def test_builtin_recipe_learns_digits_well_above_chance(name, epochs):
    stats = _fit(name, epochs=epochs)
    assert stats["accuracy"] > 0.6, stats  # chance is 0.1 on ten classes


def test_the_default_mlp_run_is_a_watchable_demo_on_real_digits():
    """The first run a user starts: 80 epochs of 1,618 batches (shifted digits, batch 8), a
    point every few tenths of a second; and it learns from the first epoch on."""
    defaults = recipe_registry.validate_params("mlp", {})
    assert (defaults.dataset, defaults.epochs, defaults.bs) == ("shifted_digits", 80, 8)
    learn = recipe_registry.build("mlp", defaults)
    assert len(learn.data.train_dl) == 1618
    assert _fit("mlp", epochs=1)["accuracy"] > 0.8


def test_mlp_learns_synthetic_data():
    assert _fit("mlp", dataset="synthetic", epochs=1, bs=256)["accuracy"] > 0.3


def test_same_seed_builds_the_same_model_and_order():
    def first_weights_and_batch(seed):
        learn = recipe_registry.build("mlp", recipe_registry.validate_params("mlp", {"seed": seed}))
        _, yb = next(iter(learn.data.train_dl))
        return next(learn.model.parameters()).detach().clone(), yb

    w1, y1 = first_weights_and_batch(3)
    w2, y2 = first_weights_and_batch(3)
    w3, _ = first_weights_and_batch(4)
    assert torch.equal(w1, w2) and torch.equal(y1, y2)
    assert not torch.equal(w1, w3)


def test_recipe_params_reach_the_model():
    learn = recipe_registry.build(
        "mlp", recipe_registry.validate_params("mlp", {"nh": 7, "lr": 0.01, "bs": 5})
    )
    assert learn.model[0].out_features == 7
    assert learn.opt.param_groups[0]["lr"] == 0.01
    assert learn.data.train_dl.batch_size == 5


# --- validation ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"lr": -0.1}, "lr"),
        ({"lr": 0}, "lr"),
        ({"epochs": 10_000}, "epochs"),
        ({"bs": 0}, "bs"),
        ({"bs": 1_000_000}, "bs"),
        ({"nh": 10**7}, "nh"),
        ({"seed": -1}, "seed"),
        ({"dataset": "imagenet"}, "dataset"),
        ({"epochs": "three"}, "epochs"),
        ({"__class__": "os.system"}, "__class__"),
    ],
)
def test_bad_params_name_the_field(params, field):
    with pytest.raises(ValidationError) as excinfo:
        recipe_registry.validate_params("mlp", params)
    assert _error_locs(excinfo) == [(field,)]


def test_unknown_recipe_lists_the_known_ones():
    with pytest.raises(UnknownEntryError, match=r"'resnet'.*mlp, cnn"):
        recipe_registry.validate_params("resnet", {})


def test_validated_params_are_immutable():
    params = recipe_registry.validate_params("mlp", {})
    with pytest.raises(ValidationError):
        params.lr = 100.0


def test_build_refuses_params_of_another_recipe():
    with pytest.raises(TypeError, match="CNNParams"):
        recipe_registry.build("cnn", MLPParams())


# --- local MNIST files: only under the datasets directory ----------------------------------


def _write_mnist_npz(path, n=10_050):
    rng = np.random.default_rng(0)
    np.savez(
        path,
        x_train=rng.integers(0, 256, (n, 28, 28), dtype=np.uint8),
        y_train=rng.integers(0, 10, n, dtype=np.uint8),
    )


def test_mnist_file_under_datasets_dir_is_used(tmp_path):
    _write_mnist_npz(tmp_path / "small.npz")
    params = recipe_registry.validate_params(
        "mlp", {"dataset": "mnist", "data_path": "small.npz"}, datasets_dir=tmp_path
    )
    learn = recipe_registry.build("mlp", params)
    assert tuple(learn.data.train_ds.x.shape) == (50, 784)
    assert params.model_dump()["data_path"] == "small.npz"  # no server path is echoed back


@pytest.mark.parametrize("data_path", ["../outside.npz", "/etc/passwd", "missing.npz", "link.npz"])
def test_mnist_path_outside_or_missing_is_refused(tmp_path, data_path):
    inside, outside = tmp_path / "datasets", tmp_path / "outside.npz"
    inside.mkdir()
    _write_mnist_npz(outside, n=10)
    (inside / "link.npz").symlink_to(outside)  # a symlink must not lead out either
    with pytest.raises(ValidationError) as excinfo:
        recipe_registry.validate_params(
            "mlp", {"dataset": "mnist", "data_path": data_path}, datasets_dir=inside
        )
    assert _error_locs(excinfo) == [("data_path",)]
    assert str(tmp_path) not in str(excinfo.value)


def test_mnist_default_path_must_exist(tmp_path):
    with pytest.raises(ValidationError, match="'mnist' does not exist") as excinfo:
        recipe_registry.validate_params("cnn", {"dataset": "mnist"}, datasets_dir=tmp_path)
    assert _error_locs(excinfo) == [("data_path",)]


def _write_idx_dir(folder):
    folder.mkdir()
    for stem in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"):
        (folder / f"{stem}.gz").write_bytes(b"")


@pytest.mark.parametrize(
    ("data_path", "message"),
    [
        ("é" * 200, "at most 255 bytes"),  # 400 bytes: the OS would say "File name too long"
        (".", "inside FITBOARD_DATASETS_DIR"),  # the directory itself
        ("sub/..", "inside FITBOARD_DATASETS_DIR"),
        ("empty", "without train-images-idx3-ubyte"),
        ("notes.txt", "must be an .npz file or a directory"),
        ("loop", "symbolic link loop"),
        ("a\x00b", "NUL"),
    ],
)
def test_mnist_path_that_is_no_dataset_is_refused_without_server_paths(
    tmp_path, data_path, message
):
    (tmp_path / "sub").mkdir()
    (tmp_path / "empty").mkdir()
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    with pytest.raises(ValidationError, match=message) as excinfo:
        recipe_registry.validate_params(
            "mlp", {"dataset": "mnist", "data_path": data_path}, datasets_dir=tmp_path
        )
    assert _error_locs(excinfo) == [("data_path",)]
    assert str(tmp_path) not in str(excinfo.value)


def test_an_os_error_on_a_dataset_path_is_a_validation_error(tmp_path):
    deep = tmp_path  # a datasets directory whose path is near the OS's limit (PATH_MAX)
    while len(str(deep)) < 3900:
        deep = deep / ("d" * 200)
    deep.mkdir(parents=True)
    with pytest.raises(ValidationError, match="cannot be opened") as excinfo:
        recipe_registry.validate_params(
            "mlp", {"dataset": "mnist", "data_path": "é" * 120}, datasets_dir=deep
        )
    assert _error_locs(excinfo) == [("data_path",)]
    assert str(tmp_path) not in str(excinfo.value)


def test_mnist_directory_of_idx_files_is_accepted(tmp_path):
    _write_idx_dir(tmp_path / "mnist")
    params = recipe_registry.validate_params("mlp", {"dataset": "mnist"}, datasets_dir=tmp_path)
    assert params.model_dump()["data_path"] == "mnist"


def test_an_unreadable_dataset_fails_the_build_without_server_paths(tmp_path):
    (tmp_path / "broken.npz").write_bytes(b"not a zip file")
    params = recipe_registry.validate_params(
        "mlp", {"dataset": "mnist", "data_path": "broken.npz"}, datasets_dir=tmp_path
    )
    with pytest.raises(ValueError, match=r"'broken\.npz'") as excinfo:
        recipe_registry.build("mlp", params)
    assert str(tmp_path) not in str(excinfo.value)


def test_data_path_without_mnist_is_refused(tmp_path):
    with pytest.raises(ValidationError, match="only used with dataset 'mnist'"):
        recipe_registry.validate_params("mlp", {"data_path": "x.npz"}, datasets_dir=tmp_path)


# --- registering recipes -------------------------------------------------------------------


def _readme_recipe_example() -> str:
    """The user-recipe module shown in README.md's Configuration section."""
    section = README.read_text().split("## Configuration", 1)[1].split("\n## ", 1)[0]
    return section.split("```python\n", 1)[1].split("```", 1)[0]


def test_readme_recipe_module_loads_by_name_and_trains(tmp_path, monkeypatch):
    module = "fitboard_test_readme_recipes"
    (tmp_path / f"{module}.py").write_text(_readme_recipe_example())
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        load_modules([module])
        assert "wide_mlp" in recipe_registry
        with pytest.raises(ValidationError) as excinfo:
            recipe_registry.validate_params("wide_mlp", {"nh": 4096})
        assert _error_locs(excinfo) == [("nh",)]
        assert _fit("wide_mlp", epochs=2, lr=0.3)["accuracy"] > 0.6
    finally:
        if "wide_mlp" in recipe_registry:
            recipe_registry.remove("wide_mlp")
        sys.modules.pop(module, None)


def test_unloadable_module_names_itself():
    with pytest.raises(RegistryError, match="'no_such_fitboard_module'"):
        load_modules(["no_such_fitboard_module"])


def test_registry_refuses_duplicates_and_untyped_params():
    local = RecipeRegistry()

    @local.recipe("one", "first")
    def one(params: TrainParams) -> Learner:
        raise NotImplementedError

    with pytest.raises(RegistryError, match="already registered"):
        local.recipe("one", "again")(one)
    with pytest.raises(RegistryError, match="subclass TrainParams"):
        local.recipe("two", "bad", dict)(one)  # type: ignore[arg-type]
    with pytest.raises(RegistryError, match="identifier"):
        local.recipe("no spaces", "bad")(one)
    with pytest.raises(RegistryError, match="identifier"):  # the API's pattern is ASCII
        local.recipe("réseau", "bad")(one)
    assert local.names() == ["one"]
