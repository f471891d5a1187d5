import numpy as np
import pytest
import torch
from PIL import Image

from spikevision.data import preprocess


def _drawing(size=(120, 90), dark_on_light=True) -> np.ndarray:
    """A thick off-centre stroke (like a '1') on a plain background, as a phone photo of a drawing would be."""
    h, w = size
    arr = np.zeros((h, w), dtype=np.uint8)
    arr[20:100, 15:27] = 255
    arr[20:32, 5:27] = 255
    return 255 - arr if dark_on_light else arr


def _centre_of_mass(img: torch.Tensor) -> tuple[float, float]:
    a = img[0]
    total = a.sum()
    ys = (a.sum(1) * torch.arange(28)).sum() / total
    xs = (a.sum(0) * torch.arange(28)).sum() / total
    return float(ys), float(xs)


@pytest.mark.parametrize("dark_on_light", [True, False])
def test_digit_is_white_on_black_fits_20x20_and_is_centred_by_mass(tmp_path, dark_on_light):
    path = tmp_path / "digit.png"
    Image.fromarray(_drawing(dark_on_light=dark_on_light), "L").save(path)
    img = preprocess.image_file_to_mnist(path)
    assert img.shape == (1, 28, 28) and img.dtype == torch.float32
    assert float(img.min()) == 0.0 and float(img.max()) == pytest.approx(1.0, abs=0.02)
    corners = torch.cat([img[0, :3, :3].flatten(), img[0, -3:, -3:].flatten()])
    assert float(corners.max()) == 0.0  # background is black
    rows = torch.nonzero(img[0].amax(1) > 0.05).flatten()
    cols = torch.nonzero(img[0].amax(0) > 0.05).flatten()
    assert rows[-1] - rows[0] + 1 <= 21 and cols[-1] - cols[0] + 1 <= 21
    cy, cx = _centre_of_mass(img)
    assert abs(cy - 14) < 1.0 and abs(cx - 14) < 1.0


def test_a_photo_with_unevenly_lit_paper_gives_the_digit_not_the_shadow(tmp_path):
    h, w = 600, 800
    light = np.linspace(150, 235, w)[None, :] - np.linspace(0, 30, h)[:, None]  # a lamp to the right, above
    paper = light + np.random.default_rng(0).normal(0, 4, (h, w))
    ink = np.zeros((h, w), bool)
    ink[150:450, 380:420] = True  # a 1: 300 pixels tall, 40 wide
    Image.fromarray(np.clip(np.where(ink, 50, paper), 0, 255).astype(np.uint8)).save(tmp_path / "photo.jpg")
    img = preprocess.image_file_to_mnist(tmp_path / "photo.jpg")[0]
    rows = torch.nonzero(img.amax(1) > 0.1).flatten()
    assert rows[-1] - rows[0] + 1 == 20  # the stroke fills the 20-pixel box: the dark paper was not taken for ink
    assert float(img[:, :8].max()) == 0.0 and float(img[:, -8:].max()) == 0.0  # and the paper is black
    cy, cx = _centre_of_mass(img[None])
    assert abs(cy - 14) < 1.0 and abs(cx - 14) < 1.0


def test_real_mnist_digit_survives_a_round_trip_through_a_png(tmp_path, mnist_test):
    digit = mnist_test.images[0]
    path = tmp_path / "seven.png"
    Image.fromarray((255 - digit).numpy(), "L").resize((280, 280)).save(path)  # dark on light, 10x larger
    img = preprocess.image_file_to_mnist(path)
    original = digit.float() / 255
    corr = torch.corrcoef(torch.stack([img.flatten(), original.flatten()]))[0, 1]
    assert corr > 0.8


@pytest.mark.parametrize("mode", ["RGBA", "P", "I;16", "RGB", "LA"])
def test_image_modes_are_handled(tmp_path, mode):
    grey = Image.fromarray(_drawing(), "L")
    if mode == "RGBA":  # black ink on a transparent canvas
        rgba = Image.new("RGBA", grey.size, (0, 0, 0, 0))
        rgba.putalpha(Image.eval(grey, lambda v: 255 - v))
        img = rgba
    elif mode == "I;16":
        img = Image.fromarray(_drawing().astype(np.uint16) * 257)  # 16-bit greyscale PNG
    elif mode == "LA":
        img = grey.convert("LA")
    else:
        img = grey.convert(mode)
    path = tmp_path / f"digit-{mode.replace(';', '')}.png"
    img.save(path)
    out = preprocess.image_file_to_mnist(path)
    cy, cx = _centre_of_mass(out)
    assert abs(cy - 14) < 1.0 and abs(cx - 14) < 1.0
    assert float(out[0, 0, 0]) == 0.0


def test_empty_text_blank_and_huge_files_are_refused(tmp_path, monkeypatch):
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    with pytest.raises(ValueError, match="empty file"):
        preprocess.image_file_to_mnist(empty)
    text = tmp_path / "notes.png"
    text.write_text("this is not a picture\n")
    with pytest.raises(ValueError, match="not a readable image"):
        preprocess.image_file_to_mnist(text)
    blank = tmp_path / "blank.png"
    Image.new("L", (50, 50), 255).save(blank)
    with pytest.raises(ValueError, match="blank"):
        preprocess.image_file_to_mnist(blank)
    with pytest.raises(FileNotFoundError):
        preprocess.image_file_to_mnist(tmp_path / "missing.png")
    monkeypatch.setattr(preprocess, "MAX_PIXELS", 100)
    big = tmp_path / "big.png"
    Image.new("L", (20, 20), 0).save(big)
    with pytest.raises(ValueError, match="too large"):
        preprocess.image_file_to_mnist(big)
