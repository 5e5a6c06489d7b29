"""Built-in datasets: digits (default), synthetic, and MNIST from local IDX or npz files."""

from __future__ import annotations

import gzip
import re
import struct

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from trainer import (
    AvgStatsCallback,
    DataBunch,
    Dataset,
    Learner,
    Runner,
    accuracy,
    get_data,
    get_dls,
    get_model,
    load_mnist,
    make_synthetic,
)


def test_digits_is_the_default_split_and_normalised_with_training_stats(digits):
    x_train, y_train, x_valid, y_valid = get_data()
    assert x_train.shape == (1438, 64) and x_valid.shape == (359, 64)
    assert x_train.dtype == torch.float32 and y_train.dtype == torch.int64
    assert abs(x_train.mean().item()) < 1e-5 and abs(x_train.std().item() - 1) < 1e-5
    assert abs(x_valid.mean().item()) > 1e-4  # validation uses training statistics
    assert set(y_train.tolist()) == set(range(10))
    again = get_data("digits")
    assert all(
        torch.equal(a, b) for a, b in zip(again, (x_train, y_train, x_valid, y_valid), strict=True)
    )
    other = get_data("digits", seed=1)
    assert not torch.equal(other[1], y_train)


def test_shifted_digits_holds_each_training_image_and_its_eight_one_pixel_moves():
    x_train, y_train, x_valid, y_valid = get_data("shifted_digits")
    _, plain_y, _, plain_valid_y = get_data("digits")
    assert x_train.shape == (9 * 1438, 64) and x_valid.shape == (359, 64)
    assert torch.equal(y_train, plain_y.repeat(9)) and torch.equal(y_valid, plain_valid_y)
    assert abs(x_train.mean().item()) < 1e-5 and abs(x_train.std().item() - 1) < 1e-5
    images = x_train.view(9, 1438, 8, 8)
    background = images[0].min()
    # The first move is one pixel up and left: the original's pixel (1, 1) lands on (0, 0),
    # and the new bottom row and right column are background.
    assert torch.equal(images[1][:, :7, :7], images[0][:, 1:, 1:])
    assert (images[1][:, 7, :] == background).all() and (images[1][:, :, 7] == background).all()
    assert len({images[k].sum().item() for k in range(9)}) == 9  # nine different sets


def test_synthetic_is_seeded_mnist_shaped_and_learnable():
    x_train, y_train, x_valid, y_valid = make_synthetic(2000, 500, seed=0)
    assert x_train.shape == (2000, 784) and x_valid.shape == (500, 784)
    assert torch.equal(make_synthetic(2000, 500, seed=0)[0], x_train)
    assert not torch.equal(make_synthetic(2000, 500, seed=1)[0], x_train)
    data = DataBunch(*get_dls(Dataset(x_train, y_train), Dataset(x_valid, y_valid), 64, seed=0), 10)
    torch.manual_seed(0)
    run = Runner(cbs=AvgStatsCallback([accuracy], verbose=False))
    run.fit(2, Learner(*get_model(data, lr=0.1), F.cross_entropy, data))
    assert run.epoch_stats["valid"]["accuracy"] > 0.8


def test_unknown_dataset_names_the_choices():
    with pytest.raises(
        ValueError,
        match="unknown dataset 'cifar'; choose one of digits, shifted_digits, synthetic, mnist, "
        "csv",
    ):
        get_data("cifar")


def _idx(path, array):
    code = {np.uint8: 0x08}[array.dtype.type]
    header = struct.pack(">BBBB", 0, 0, code, array.ndim) + b"".join(
        struct.pack(">I", d) for d in array.shape
    )
    path.write_bytes(gzip.compress(header + array.tobytes()))


@pytest.fixture
def fake_mnist():
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (30, 28, 28), dtype=np.uint8), rng.integers(0, 10, 30).astype(
        np.uint8
    )


def test_mnist_from_idx_gz_files(tmp_path, fake_mnist):
    images, labels = fake_mnist
    _idx(tmp_path / "train-images-idx3-ubyte.gz", images)
    _idx(tmp_path / "train-labels-idx1-ubyte.gz", labels)
    x_train, _, x_valid, y_valid = get_data("mnist", path=tmp_path, n_valid=10)
    assert x_train.shape == (20, 784) and x_valid.shape == (10, 784)
    assert y_valid.tolist() == labels[20:].tolist()
    raw = torch.tensor(images[:20].reshape(20, -1), dtype=torch.float32) / 255
    expected = (raw - raw.mean()) / raw.std()
    assert torch.allclose(x_train, expected, atol=1e-6)


def test_mnist_from_npz_and_same_split_as_idx(tmp_path, fake_mnist):
    images, labels = fake_mnist
    np.savez(tmp_path / "mnist.npz", x_train=images, y_train=labels)
    x_train, y_train, *_ = load_mnist(tmp_path / "mnist.npz", n_valid=10)
    assert x_train.shape == (20, 784) and y_train.tolist() == labels[:20].tolist()


def test_mnist_npz_holding_pickles_is_refused(tmp_path):
    np.savez(tmp_path / "bad.npz", x_train=np.array([{"a": 1}], dtype=object), y_train=np.zeros(1))
    with pytest.raises(ValueError, match="allow_pickle"):
        load_mnist(tmp_path / "bad.npz", n_valid=0)


def test_mnist_needs_a_path_and_never_downloads(tmp_path):
    with pytest.raises(ValueError, match="never downloaded"):
        get_data("mnist")
    with pytest.raises(FileNotFoundError, match="no MNIST files"):
        load_mnist(tmp_path / "missing")
    with pytest.raises(FileNotFoundError, match=r"train-images-idx3-ubyte\.gz"):
        load_mnist(tmp_path)


def test_corrupt_idx_file_is_refused(tmp_path):
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(b"not idx"))
    (tmp_path / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(b"not idx"))
    with pytest.raises(ValueError, match="is not an IDX file"):
        load_mnist(tmp_path)


def _table(path, rows, header="a,b,label"):
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def test_a_csv_of_your_own_is_split_standardised_and_labelled(tmp_path):
    rows = [f"{i},{10 * (i % 2) + i / 100},{'odd' if i % 2 else 'even'}" for i in range(50)]
    x_train, y_train, x_valid, y_valid = get_data("csv", path=_table(tmp_path / "t.csv", rows))
    assert x_train.shape == (40, 2) and x_valid.shape == (10, 2)
    assert torch.allclose(x_train.mean(0), torch.zeros(2), atol=1e-5)
    assert torch.allclose(x_train.std(0), torch.ones(2), atol=1e-5)
    assert set(torch.cat([y_train, y_valid]).tolist()) == {0, 1}  # even -> 0, odd -> 1
    # The label follows its row: column b is large exactly for the odd rows.
    assert ((x_train[:, 1] > 0) == (y_train == 1)).all()


@pytest.mark.parametrize(
    ("rows", "header", "message"),
    [
        (["1,2,x"] * 12, "a,b,kind", "has no column 'label'; its columns: a, b, kind"),
        (["1,oops,x"] * 12, "a,b,label", "line 2: column 'b' is not numeric ('oops')"),
        (["1,2,x"] * 3, "a,b,label", "has 3 rows; at least 10 are needed"),
        (["1,2,x", "1,2"] * 6, "a,b,label", "line 3: 2 fields, the header has 3"),
        (["1,nan,x"] * 12, "a,b,label", "NaN or infinite"),
    ],
)
def test_a_bad_csv_is_refused_with_the_reason(tmp_path, rows, header, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        get_data("csv", path=_table(tmp_path / "t.csv", rows, header))


def test_a_missing_csv_says_so(tmp_path):
    with pytest.raises(FileNotFoundError, match="no CSV file"):
        get_data("csv", path=tmp_path / "none.csv")


def test_load_npz_standardises_with_training_statistics_and_maps_class_names(tmp_path):
    from trainer.datasets import load_npz

    rng = np.random.default_rng(1)
    x = rng.normal(loc=[3.0, -2.0], scale=[2.0, 0.5], size=(50, 2))
    y = np.array(["b", "a"] * 25)
    np.savez(tmp_path / "d.npz", inputs=x, kind=y)
    x_train, y_train, x_valid, y_valid = load_npz(tmp_path / "d.npz", x="inputs", y="kind")
    assert (len(x_train), len(x_valid)) == (40, 10)
    assert torch.allclose(x_train.mean(0), torch.zeros(2), atol=1e-5)
    assert torch.allclose(x_train.std(0), torch.ones(2), atol=1e-5)
    assert set(torch.cat([y_train, y_valid]).tolist()) == {0, 1}  # "a" -> 0, "b" -> 1
