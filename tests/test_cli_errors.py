"""Every kind of bad argument to the command line: one line on stderr, exit code 2, no traceback, no warning,
and nothing written. And `predict` on pictures in every format a user may have: read, or refused by name.

The data command's own errors are in tests/test_data.py, encode's option errors in tests/test_encode_cli.py
and the encoders' value checks in tests/test_encoding.py; this file adds what those do not reach.
"""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import sys
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from test_train import TINY_OVERRIDES, reference_run  # noqa: F401

from spikevision import cli
from spikevision.data import encoding
from spikevision.runs.checkpoint import CHECKPOINT_NAME


def run(capsys, argv: list[str]) -> tuple[int, str, str, list]:
    """`spikevision ARGV` in-process -> (exit code, stdout, stderr, warnings raised)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")  # a warning would be more lines on a real stderr
        code = cli.main(argv)
    out, err = capsys.readouterr()
    return code, out, err, [str(w.message) for w in caught]


def assert_one_line(code: int, out: str, err: str, caught: list, needle: str) -> None:
    assert code == 2, (code, err)
    assert out == "" and not caught, (out, caught)
    assert err.endswith("\n") and err.count("\n") == 1, err
    assert err.startswith("spikevision") and ": error: " in err and "Traceback" not in err, err
    assert needle in err, err


# --------------------------------------------------------------------------- usage and config errors


def test_bare_spikevision_prints_the_help_not_an_error(capsys):
    assert cli.main([]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("usage: spikevision") and "COMMAND" in out and "train" in out and err == ""


def test_the_help_loads_no_torch():
    # Every subcommand's parser is built for --help; none may pull in torch (seconds) to do it.
    code = "import sys; from spikevision import cli; cli.build_parser(); print('torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "False", done.stderr

USAGE = [
    (["trian"], "argument COMMAND: invalid choice: 'trian'"),
    (["train", "--colour", "red"], "unrecognized arguments: --colour red"),
    (["train", "--epochs", "three"], "spikevision train: error: argument --epochs: invalid int value: 'three'"),
    (["train", "--seed", "1.5"], "argument --seed: invalid int value: '1.5'"),
    (["train", "--set"], "argument --set: expected one argument"),
    (["evaluate"], "spikevision evaluate: error: the following arguments are required: run"),
    (["evaluate", "{run}", "--bogus"], "unrecognized arguments: --bogus"),
    (["predict", "{run}"], "the following arguments are required: images"),
    (["data"], "spikevision data: error: the following arguments are required: ACTION"),
    (["encode", "--coding", "morse", "--out", "{tmp}/enc"], "argument --coding: invalid choice: 'morse'"),
]

# (--set items or other train arguments, expected part of the one line)
TRAIN_CONFIG = [
    (["--preset", "nonsense"], "unknown preset 'nonsense'; valid presets: "),
    (["--preset", "../../etc/passwd"], "unknown preset '../../etc/passwd'"),
    (["--preset", "{tmp}/missing.toml"], "unknown preset"),
    (["--preset", "{tmp}/broken.toml"], "is not valid TOML"),
    (["--set", "train.lrr=1"], "unknown key 'train.lrr'; valid train keys: "),
    (["--set", "colour=red"], "unknown key 'colour'; valid: "),
    (["--set", "lr"], "--set takes key=value, got 'lr'"),
    (["--set", "train.lr=abc"], "train.lr must be a positive number, got 'abc'"),
    (["--set", "train.lr=true"], "train.lr must be a positive number, got True"),
    (["--set", "train.lr=inf"], "train.lr must be a positive number, got inf"),
    (["--set", "train.lr=nan"], "train.lr must be a positive number, got nan"),
    (["--set", "train.lr=-1"], "train.lr must be a positive number, got -1"),
    (["--set", "train.epochs=true"], "train.epochs must be a whole number >= 1, got True"),
    (["--set", "train.epochs=1.5"], "train.epochs must be a whole number >= 1, got 1.5"),
    (["--epochs", "0"], "train.epochs must be a whole number >= 1, got 0"),
    (["--seed", "-1"], "train.seed must be a whole number >= 0, got -1"),
    (["--set", "train.betas=5"], "train.betas must be two numbers like [0.9, 0.999], got 5"),
    (["--set", 'train.betas=[0.9, "x"]'], "train.betas must be two numbers in [0, 1)"),
    (["--set", "train.betas=[0.9, 1.5]"], "train.betas must be two numbers in [0, 1)"),
    (["--set", "train.weight_decay=abc"], "train.weight_decay must be a number >= 0, got 'abc'"),
    (["--set", "train.correct_rate=2"], "train.correct_rate must be a number in [0, 1], got 2"),
    (["--set", "train.drop_last=3"], "train.drop_last must be true or false, got 3"),
    (["--set", "train.encoding=morse"],
     "train.encoding must be one of direct, rate, latency, rows, frames; got 'morse'"),
    (["--set", "train.loss=hinge"], "train.loss must be one of"),
    (["--set", "train.dataset=../../x"], "train.dataset must be one of mnist, fashion-mnist"),
    (["--set", "train.encoding_options=5"], "train.encoding_options must be a table"),
    (["--set", "encoding=rate", "--set", "encoding_options={gain=nan}"], "gain must be a finite number, got nan"),
    (["--set", "encoding=rate", "--set", "encoding_options={gainn=1}"], "unknown argument(s) for coding 'rate': gainn"),
    (["--set", "encoding=latency", "--set", "encoding_options={tau=5}"], "is too short"),
    (["--set", "model.hidden=abc"], "hidden must be a list of whole numbers, got 'abc'"),
    (["--set", "model.hidden=[0]"], "hidden must be whole numbers >= 1, got [0]"),
    (["--set", "model.beta=2"], "beta must be a number in [0, 1], got 2"),
    (["--set", "model.kind=rnn"], "kind must be one of"),
    (["--set", "model.surrogate=magic"], "surrogate must be one of"),
    (["--set", "model.dropout=1"], "dropout must be a number in [0, 1), got 1"),
    (["--set", "train.batch_size=100000"], "train.batch_size 100000 is larger than the 512 training images"),
]


@pytest.mark.parametrize(("argv", "needle"), USAGE, ids=[" ".join(a) or "(nothing)" for a, _ in USAGE])
def test_usage_errors_are_one_line(capsys, tmp_path, reference_run, argv, needle):
    argv = [a.format(run=reference_run, tmp=tmp_path) for a in argv]
    assert_one_line(*run(capsys, argv), needle)
    assert not (tmp_path / "enc").exists()


@pytest.mark.parametrize(("extra", "needle"), TRAIN_CONFIG, ids=[" ".join(a) for a, _ in TRAIN_CONFIG])
def test_bad_train_settings_are_one_line_and_make_no_run_directory(capsys, tmp_path, mnist_root, extra, needle):
    (tmp_path / "broken.toml").write_text("[train\nlr = 1\n")
    out_dir = tmp_path / "run"
    argv = ["train", "--preset", "quick", "--out", str(out_dir), "--root", str(mnist_root), "--quiet"]
    for item in TINY_OVERRIDES:
        argv += ["--set", item]
    argv += [a.replace("{tmp}", str(tmp_path)) for a in extra]
    assert_one_line(*run(capsys, argv), needle)
    assert not out_dir.exists()  # refused before anything was written


# --------------------------------------------------------------------------- run directories


def broken_runs(tmp_path: Path, reference_run: Path) -> dict[str, Path]:
    """Run directories damaged in every way we can think of, by name."""
    runs = {"missing": tmp_path / "missing", "a file": tmp_path / "file", "no config": tmp_path / "empty"}
    runs["a file"].write_text("not a run\n")
    runs["no config"].mkdir()

    def copy(name: str, edit) -> None:
        runs[name] = tmp_path / name.replace(" ", "-")
        shutil.copytree(reference_run, runs[name])
        edit(runs[name])

    copy("config not JSON", lambda d: (d / "config.json").write_text("{model: oops"))
    copy("config a list", lambda d: (d / "config.json").write_text("[1, 2]"))
    copy("config model a string", lambda d: (d / "config.json").write_text('{"model": "abc"}'))
    copy("config unknown key", lambda d: (d / "config.json").write_text('{"train": {"colour": "red"}}'))
    copy("config bad value", lambda d: (d / "config.json").write_text('{"model": {"beta": -1}}'))
    copy("no checkpoint", lambda d: (d / CHECKPOINT_NAME).unlink())
    copy("truncated checkpoint",
         lambda d: (d / CHECKPOINT_NAME).write_bytes((d / CHECKPOINT_NAME).read_bytes()[:5000]))
    copy("checkpoint is a picture", lambda d: Image.fromarray(digit_array()).save(d / CHECKPOINT_NAME, "PNG"))
    copy("checkpoint is a directory", lambda d: ((d / CHECKPOINT_NAME).unlink(), (d / CHECKPOINT_NAME).mkdir()))
    return runs


RUN_ERRORS = {
    "missing": "does not exist; train one with spikevision train --out",
    "a file": "is a file, not a run directory",
    "no config": "is not a run directory: no config.json",
    "config not JSON": "config.json is not valid JSON",
    "config a list": "a run config must be a table with model and train sections, got list",
    "config model a string": "config section 'model' must be a table of key = value, got str",
    "config unknown key": "unknown train key(s) ['colour']",
    "config bad value": "beta must be a number in [0, 1], got -1",
    "no checkpoint": "no checkpoint at",
    "truncated checkpoint": "is not a readable spikevision checkpoint",
    "checkpoint is a picture": "is not a readable spikevision checkpoint",
    "checkpoint is a directory": "no checkpoint at",
}
COMMANDS = {
    "evaluate": ["evaluate", "{run}", "--root", "{root}"],
    "predict": ["predict", "{run}", "{picture}"],
    "inspect": ["inspect", "{run}", "--root", "{root}", "--out", "{tmp}/inspect"],
    "report": ["report", "{run}", "--root", "{root}"],
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_broken_run_directory_is_one_line_for_every_command(capsys, tmp_path, mnist_root, reference_run,
                                                                   command):
    runs = broken_runs(tmp_path, reference_run)
    picture = tmp_path / "digit.png"
    Image.fromarray(digit_array()).save(picture)
    for name, needle in RUN_ERRORS.items():
        argv = [a.format(run=runs[name], root=mnist_root, picture=picture, tmp=tmp_path) for a in COMMANDS[command]]
        code, out, err, caught = run(capsys, argv)
        try:
            assert_one_line(code, out, err, caught, needle)
        except AssertionError as exc:
            raise AssertionError(f"{command} on a run directory with {name}: {exc}") from None


@pytest.mark.parametrize("name", ["missing", "no config", "config a list", "config bad value", "truncated checkpoint"])
def test_resume_of_a_broken_run_directory_is_one_line(capsys, tmp_path, mnist_root, reference_run, name):
    runs = broken_runs(tmp_path, reference_run)
    needle = RUN_ERRORS[name] if name != "no config" else "is not a run directory: no config.json"
    argv = ["train", "--out", str(runs[name]), "--root", str(mnist_root), "--resume", "--quiet"]
    assert_one_line(*run(capsys, argv), needle)


def test_a_new_run_refuses_to_overwrite_an_old_one(capsys, mnist_root, reference_run):
    before = (reference_run / CHECKPOINT_NAME).read_bytes()
    argv = ["train", "--preset", "quick", "--out", str(reference_run), "--root", str(mnist_root), "--quiet"]
    assert_one_line(*run(capsys, argv), "already holds a run; continue it with --resume, or choose another --out")
    assert (reference_run / CHECKPOINT_NAME).read_bytes() == before


# --------------------------------------------------------------------------- predict on any file


def digit_array(size: tuple[int, int] = (90, 60)) -> np.ndarray:
    """A white '7'-like stroke on black, uint8."""
    h, w = size
    arr = np.zeros((h, w), dtype=np.uint8)
    arr[h // 6 : h // 6 + h // 10, w // 5 : w - w // 5] = 255
    for row in range(h // 6, h - h // 8):
        col = int(w - w // 5 - (row - h // 6) * 0.45)
        arr[row, max(col - w // 10, 0) : col] = 255
    return arr


def png_header_only(width: int, height: int) -> bytes:
    """A valid PNG signature and header claiming ``width x height``, with almost no pixel data."""
    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 16))
            + chunk(b"IEND", b""))


def refused_files(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    """Files predict must refuse: path and the part of the message that says why."""
    files = {}

    def add(name: str, needle: str, data: bytes | None = None, image: Image.Image | None = None) -> None:
        path = tmp_path / name
        if image is not None:
            image.save(path)
        elif data is not None:
            path.write_bytes(data)
        files[name] = (path, needle)

    add("missing.png", "no such image file")
    (tmp_path / "folder.png").mkdir()
    files["folder.png"] = (tmp_path / "folder.png", "is a directory, not an image file")
    add("empty.png", "empty file, not an image", b"")
    add("notes.png", "not a readable image (PNG, JPEG, ...)", b"these are my notes, not a picture\n")
    add("notes.txt", "not a readable image", "\u00e9t\u00e9 \u2603\n".encode())
    add("random.jpg", "not a readable image", np.random.default_rng(0).bytes(5000))
    whole = tmp_path / "whole.png"
    Image.fromarray(np.random.default_rng(1).integers(0, 255, (200, 200), dtype=np.uint8)).save(whole)
    add("truncated.png", "image file is truncated", whole.read_bytes()[:8000])
    add("bomb.png", "exceeds limit", png_header_only(100_000, 100_000))  # 10^10 pixels: Pillow's own refusal
    add("huge.png", "9500x9500 is too large (max 50,000,000 pixels)", png_header_only(9_500, 9_500))
    add("big.png", "8000x7000 is too large", png_header_only(8_000, 7_000))
    add("bomb.png", "is too large (max 50,000,000 pixels)", png_header_only(20_000, 20_000))  # past Pillow's limit
    nan = digit_array().astype(np.float32) / 255
    nan[5, 5] = np.nan
    add("nan.tiff", "the image has NaN or infinite pixel values", image=Image.fromarray(nan, "F"))
    add("inf.tiff", "the image has NaN or infinite pixel values",
        image=Image.fromarray(np.full((30, 30), np.inf, np.float32), "F"))
    add("blank.png", "the image is blank: no digit found", image=Image.new("L", (50, 50), 255))
    add("one-pixel.png", "the image is blank", image=Image.new("L", (1, 1), 0))
    return files


def test_predict_refuses_every_unreadable_file_by_name(capsys, tmp_path, reference_run):
    files = refused_files(tmp_path)
    good = tmp_path / "good.png"
    Image.fromarray(digit_array()).save(good)
    for name, (path, needle) in files.items():
        # The bad file among good ones: the message must say which file it was.
        code, out, err, caught = run(capsys, ["predict", str(reference_run), str(good), str(path)])
        try:
            assert_one_line(code, out, err, caught, needle)
            assert str(path) in err
        except AssertionError as exc:
            raise AssertionError(f"predict {name}: {exc}") from None


def same_picture_in_every_format(tmp_path: Path) -> tuple[dict[str, Path], dict[str, Path]]:
    """The same digit saved losslessly in many modes and formats, and a few lossy ones."""
    grey = Image.fromarray(digit_array(), "L")
    ink = Image.fromarray(255 - digit_array(), "L")  # dark on light, as drawn on paper
    rgba = Image.new("RGBA", grey.size, (0, 0, 0, 0))
    rgba.putalpha(grey)  # black ink on a transparent canvas
    exact = {
        "grey.png": grey,
        "ink-on-paper.png": ink,
        "16-bit.png": Image.fromarray(digit_array().astype(np.uint16) * 257),
        "rgb.png": grey.convert("RGB"),
        "rgba-transparent.png": rgba,
        "palette.png": grey.convert("P"),
        "grey-alpha.png": grey.convert("LA"),
        "1-bit.png": grey.convert("1"),
        "float.tiff": Image.fromarray(digit_array().astype(np.float32) / 255, "F"),
        "palette.gif": grey.convert("P"),
        "grey.bmp": grey,
        "grey.webp": grey,
    }
    lossy = {
        "photo.jpg": ink.convert("RGB"),
        "cmyk.jpg": grey.convert("CMYK"),
        "large.png": grey.resize((3000, 4500)),
    }
    paths = {}
    for group in (exact, lossy):
        for name, image in group.items():
            path = tmp_path / name
            image.save(path, **({"lossless": True} if name.endswith(".webp") else {}))
            paths[name] = path
    return {k: paths[k] for k in exact}, {k: paths[k] for k in lossy}


def test_predict_reads_the_same_digit_in_every_format_alike(capsys, tmp_path, reference_run):
    exact, lossy = same_picture_in_every_format(tmp_path)
    code, out, err, caught = run(capsys, ["predict", str(reference_run), *map(str, [*exact.values(),
                                                                                   *lossy.values()]), "--json"])
    assert code == 0 and err == "" and not caught, (err, caught)
    results = {Path(r["image"]).name: r for r in json.loads(out)}
    assert set(results) == {*exact, *lossy}
    # Lossless copies of one picture are one input to the network: the same spike counts, exactly.
    counts = {name: results[name]["spike_counts"] for name in exact}
    assert all(c == counts["grey.png"] for c in counts.values()), counts
    for name in lossy:  # compression or resizing may move a spike, not the whole answer
        assert results[name]["prediction"] in range(10) and len(results[name]["spike_counts"]) == 10


def test_an_animated_gif_is_read_by_its_first_frame(capsys, tmp_path, reference_run):
    first = Image.fromarray(digit_array(), "L")
    frames = tmp_path / "moving.gif"
    first.save(frames, save_all=True, append_images=[Image.fromarray(255 - digit_array(), "L").convert("L")])
    still = tmp_path / "still.png"
    first.save(still)
    code, out, err, _ = run(capsys, ["predict", str(reference_run), str(frames), str(still), "--json"])
    assert code == 0, err
    moving, single = json.loads(out)
    assert moving["spike_counts"] == single["spike_counts"]


# --------------------------------------------------------------------------- encode and the real process


@pytest.mark.parametrize(("x", "needle"), [
    (torch.tensor([0.5, -float("inf")]), r"x has values in \[-inf, 0.5\]"),
    (torch.tensor([True, False]), "x must be a floating tensor"),
    (torch.tensor([0.5 + 0.5j]), "x must be a floating tensor"),
    (torch.full((2, 3), float("nan")), "x contains NaN"),
], ids=["-inf", "bool", "complex", "all NaN"])
@pytest.mark.parametrize("coding", ["rate", "latency"])
def test_encoders_refuse_inputs_test_encoding_does_not_try(coding, x, needle):
    with pytest.raises(ValueError, match=needle):
        encoding.encode(x, coding, 100)


def test_encode_with_an_absurd_number_of_steps_is_one_line_not_a_crash(capsys, tmp_path, mnist_root):
    # 10^13 steps cannot be allocated: torch refuses at once, and the user hears it in one line.
    argv = ["encode", "--coding", "rate", "--num-steps", str(10**13), "--samples", "1", "--root", str(mnist_root),
            "--out", str(tmp_path / "enc")]
    assert_one_line(*run(capsys, argv), "out of memory; use fewer time steps")


def test_the_installed_command_prints_one_line_and_exits_2(tmp_path):
    # The real process: argparse's own exit, Python's warnings and the interpreter's traceback all reach here.
    for argv, needle in ((["train", "--epochs", "three"], "invalid int value: 'three'"),
                         (["evaluate", str(tmp_path / "missing")], "missing does not exist")):
        done = subprocess.run([sys.executable, "-m", "spikevision", *argv], capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 2 and done.stdout == "", done
        assert done.stderr.count("\n") == 1 and needle in done.stderr, done.stderr


@pytest.mark.parametrize(("argv", "option"), [
    (["encode", "--coding", "rate", "--samples", "1", "--out", "{blocked}"], "--out"),
    (["neuron", "--out", "{blocked}"], "--out"),
    (["inspect", "{run}", "--root", "{root}", "--index", "0", "--out", "{blocked}"], "--out"),
    (["data", "fetch", "--root", "{blocked}"], "--root"),
    (["export", "{run}", "--out", "{blocked}/model.nir"], "--out"),
])
def test_an_unwritable_output_is_said_the_same_way_by_every_command(capsys, tmp_path, mnist_root, reference_run,
                                                                     argv, option):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory\n")
    blocked = blocker / "sub"
    argv = [a.format(blocked=blocked, run=reference_run, root=mnist_root) for a in argv]
    code, out, err, caught = run(capsys, argv)
    assert code == 2 and not caught and "Errno" not in err, err
    assert err.count("\n") == 1 and ": Not a directory; choose a writable " + option + " directory" in err, err
    assert f"cannot write {blocker}" in err, err


def test_evaluate_shows_its_numbers_even_when_the_run_directory_cannot_be_written(capsys, tmp_path, mnist_root,
                                                                                  reference_run):
    run_dir = tmp_path / "run"
    shutil.copytree(reference_run, run_dir)
    (run_dir / "evaluation.json").mkdir()  # what stands in for an unwritable directory when tests run as root
    code = cli.main(["evaluate", str(run_dir), "--root", str(mnist_root)])
    out, err = capsys.readouterr()
    assert code == 2 and out.startswith("Test accuracy: ") and "Wrote" not in out
    assert err.count("\n") == 1 and f"could not write {run_dir / 'evaluation.json'}: Is a directory" in err
