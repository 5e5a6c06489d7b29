"""Dataset, DataLoader, DataBunch and get_dls, including the errors for bad input."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import TensorDataset

from trainer import DataBunch, DataLoader, Dataset, get_dls


def test_dataset_indexes_x_and_y_together():
    ds = Dataset(torch.arange(10.0).view(5, 2), torch.arange(5))
    x, y = ds[2]
    assert x.tolist() == [4.0, 5.0] and y.item() == 2
    assert len(ds) == 5


def test_dataset_with_mismatched_lengths_names_both():
    with pytest.raises(ValueError, match="lengths differ: 5 inputs, 4 targets"):
        Dataset(torch.zeros(5, 2), torch.zeros(4))


def test_empty_dataset_is_refused():
    with pytest.raises(ValueError, match="empty"):
        Dataset(torch.zeros(0, 3), torch.zeros(0))


@pytest.mark.parametrize(
    ("n", "bs", "drop_last", "sizes"), [(10, 4, False, [4, 4, 2]), (10, 4, True, [4, 4])]
)
def test_dataloader_batches_cover_the_data(n, bs, drop_last, sizes):
    ds = Dataset(torch.arange(n).float().unsqueeze(1), torch.arange(n))
    dl = DataLoader(
        ds, bs, shuffle=True, drop_last=drop_last, generator=torch.Generator().manual_seed(0)
    )
    batches = list(dl)
    assert [len(yb) for _, yb in batches] == sizes and len(dl) == len(sizes)
    seen = torch.cat([yb for _, yb in batches])
    assert len(set(seen.tolist())) == len(seen)  # no repeats
    if not drop_last:
        assert sorted(seen.tolist()) == list(range(n))
    for xb, yb in batches:
        assert torch.equal(xb.squeeze(1).long(), yb)  # x and y stay paired


def test_shuffle_is_seeded_and_differs_between_epochs():
    ds = Dataset(torch.zeros(100, 1), torch.arange(100))

    def orders(seed):
        dl = DataLoader(ds, 100, shuffle=True, generator=torch.Generator().manual_seed(seed))
        return [next(iter(dl))[1].tolist() for _ in range(2)]

    first, second = orders(0)
    assert first != second and first != list(range(100))
    assert orders(0) == [first, second]
    assert orders(1)[0] != first


def test_shuffle_without_generator_follows_torch_manual_seed():
    ds = Dataset(torch.zeros(50, 1), torch.arange(50))
    torch.manual_seed(3)
    a = next(iter(DataLoader(ds, 50, shuffle=True)))[1]
    torch.manual_seed(3)
    b = next(iter(DataLoader(ds, 50, shuffle=True)))[1]
    assert torch.equal(a, b)


def test_unshuffled_loader_keeps_order():
    ds = Dataset(torch.zeros(7, 1), torch.arange(7))
    assert torch.cat([yb for _, yb in DataLoader(ds, 3)]).tolist() == list(range(7))


def test_other_datasets_fall_back_to_torch_dataloader():
    ds = TensorDataset(torch.arange(6.0).unsqueeze(1), torch.arange(6))
    dl = DataLoader(ds, 4)
    assert [len(yb) for _, yb in dl] == [4, 2] and len(dl) == 2


def test_bad_batch_size_is_refused():
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader(Dataset(torch.zeros(3, 1), torch.zeros(3)), 0)


def test_get_dls_doubles_valid_batch_and_shuffles_train_only(digits):
    x_train, y_train, x_valid, y_valid = digits
    train_dl, valid_dl = get_dls(Dataset(x_train, y_train), Dataset(x_valid, y_valid), 32, seed=0)
    assert (train_dl.batch_size, valid_dl.batch_size) == (32, 64)
    assert train_dl.shuffle and not valid_dl.shuffle


def _bunch(y_train, y_valid, c=3, x_valid=None):
    train = Dataset(torch.zeros(len(y_train), 2), torch.tensor(y_train))
    valid = Dataset(
        x_valid if x_valid is not None else torch.zeros(len(y_valid), 2), torch.tensor(y_valid)
    )
    return DataBunch(*get_dls(train, valid, 2), c=c)


def test_databunch_exposes_datasets():
    data = _bunch([0, 1], [2])
    assert len(data.train_ds) == 2 and len(data.valid_ds) == 1 and data.c == 3


@pytest.mark.parametrize(
    ("y_train", "y_valid", "match"),
    [
        ([0, 3], [0], r"training labels must lie in \[0, 3\) for c=3, found label 3"),
        ([0, 1], [-1], r"validation labels must lie in \[0, 3\) for c=3, found label -1"),
    ],
)
def test_labels_out_of_range_for_c_are_refused(y_train, y_valid, match):
    with pytest.raises(ValueError, match=match):
        _bunch(y_train, y_valid)


def test_mismatched_input_shapes_are_refused():
    with pytest.raises(ValueError, match=r"differ in shape: \(2,\) vs \(5,\)"):
        _bunch([0, 1], [0], x_valid=torch.zeros(1, 5))


def test_from_arrays_batches_like_get_dls_and_infers_c_from_the_labels():
    x, y = torch.randn(10, 3), torch.tensor([0, 1, 2, 3, 4, 0, 1, 2, 3, 4])
    data = DataBunch.from_arrays(x[:8], y[:8], x[8:], torch.tensor([6, 0]), bs=4, seed=1)
    assert data.c == 7  # the largest label anywhere, + 1
    first_epoch = [yb.tolist() for _, yb in data.train_dl]
    assert [len(labels) for labels in first_epoch] == [4, 4]
    assert [len(xb) for xb, _ in data.valid_dl] == [2]  # validation batches are 2 * bs
    same = DataBunch.from_arrays(x[:8], y[:8], x[8:], torch.tensor([6, 0]), bs=4, seed=1)
    assert [yb.tolist() for _, yb in same.train_dl] == first_epoch  # the seed fixes the order
    with pytest.raises(ValueError, match="labels must lie in"):
        DataBunch.from_arrays(x[:8], y[:8], x[8:], y[8:], bs=4, c=3)
