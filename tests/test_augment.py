"""Random erasing: one rectangle of the stated size blanked in the chosen images, no draws when it is off."""

import pytest
import torch

from spikevision.data import augment
from spikevision.errors import InvalidValue
from spikevision.runs import config


def test_random_erase_draws_nothing_and_returns_the_images_when_off():
    images = torch.rand(8, 1, 28, 28)
    generator = torch.Generator().manual_seed(0)
    state = generator.get_state()
    assert augment.random_erase(images, 0.0, generator) is images
    assert torch.equal(generator.get_state(), state)  # the other augmentations' draws are unchanged


def test_random_erase_blanks_one_rectangle_of_the_published_size_in_every_image():
    images = torch.ones(500, 1, 28, 28)
    erased = augment.random_erase(images, 1.0, torch.Generator().manual_seed(1))
    assert torch.equal(images, torch.ones_like(images))  # the input is left alone
    zero = erased[:, 0] == 0
    rows, cols = zero.any(2), zero.any(1)  # (B, H), (B, W): the rows and columns the rectangle covers
    height, width = rows.sum(1), cols.sum(1)
    assert torch.equal(zero.sum((1, 2)), height * width)  # the blanked pixels fill their bounding box
    for covered in (rows, cols):  # contiguous: first covered index + count - 1 is the last covered index
        first = covered.float().argmax(1)
        last = covered.shape[1] - 1 - covered.flip(1).float().argmax(1)
        assert torch.equal(last - first + 1, covered.sum(1))
    share = (height * width).float() / 784
    assert share.min() >= 0.015 and share.max() <= 0.36  # 2-33 % of the image, up to rounding of the sides
    assert share.mean().item() == pytest.approx(0.175, abs=0.03)
    assert int((height > width).sum()) > 150 and int((width > height).sum()) > 150  # both orientations


def test_random_erase_touches_about_the_chosen_share_of_images():
    images = torch.rand(1000, 1, 28, 28) + 0.1  # no zeros of their own
    erased = augment.random_erase(images, 0.5, torch.Generator().manual_seed(2))
    touched = (erased == 0).flatten(1).any(1)
    assert 430 < int(touched.sum()) < 570
    assert torch.equal(erased[~touched], images[~touched])


def test_augment_erase_is_a_train_key_with_its_range_checked():
    run = config.resolve("fashion", ["train.augment_erase=0.5"])
    assert run.train.augment_erase == 0.5
    with pytest.raises(InvalidValue, match="augment_erase"):
        config.resolve("fashion", ["train.augment_erase=1.5"])
