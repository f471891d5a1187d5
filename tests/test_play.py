"""`spikevision play`: the real command serving real runs, driven over HTTP and in Debian's chromium.

The server runs as the user starts it (``python -m spikevision play ... --port 0``) in a subprocess, and is
stopped with SIGINT as Ctrl-C stops it. The page is drawn on with mouse events along the strokes of
``spikevision.data.drawn``, and what it shows is compared with ``spikevision predict`` on the same picture.
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from spikevision import data
from spikevision.cli import main
from spikevision.data import drawn, preprocess
from spikevision.play import runs as play_runs
from spikevision.runs import config, train

START_TIMEOUT = 120  # seconds for a server to print its address (it loads and warms its first run)


class PlayServer:
    """``spikevision play ARGS --port 0`` in a subprocess; its output goes to files (a pipe could fill up)."""

    def __init__(self, tmp: Path, *args: str, timeout: float = START_TIMEOUT) -> None:
        tmp.mkdir(parents=True, exist_ok=True)
        self.out, self.err = tmp / "stdout.txt", tmp / "stderr.txt"
        with open(self.out, "w") as out, open(self.err, "w") as err:
            self.proc = subprocess.Popen([sys.executable, "-m", "spikevision", "play", *args, "--port", "0"],
                                         stdout=out, stderr=err, text=True)
        deadline = time.monotonic() + timeout
        while not (found := re.search(r"spikevision play: (http://\S+)", self.out.read_text())):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.proc.kill()
                raise AssertionError(f"play did not start: {self.out.read_text()} {self.err.read_text()}")
            time.sleep(0.1)
        self.url = found.group(1)

    def stop(self) -> tuple[int, str, str]:
        """Ctrl-C it; its exit code, stdout and stderr."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                raise
        return self.proc.returncode, self.out.read_text(), self.err.read_text()


def request(url: str, body: bytes | None = None) -> tuple[int, dict | str]:
    """GET (or POST ``body``): the status and the JSON (or text) answer, 4xx and 5xx included."""
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=body), timeout=60) as answer:
            status, text = answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        status, text = error.code, error.read().decode()
    try:
        return status, json.loads(text)
    except json.JSONDecodeError:
        return status, text


def png(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture(scope="session")
def runs_dir(tmp_path_factory, tiny_run, mnist_root) -> Path:
    """A folder of four runs: the shared tiny MLP (as ``mlp``), a tiny conv network (``nested/cnn``), a tiny
    recurrent network that reads rows (``rows``) and a tiny conv network trained on emulated N-MNIST events
    (``nmnist``)."""
    root = tmp_path_factory.mktemp("play-runs")
    shutil.copytree(tiny_run, root / "mlp")
    cfg = config.resolve("conv", ["model.conv=4C5-MP2", "train.num_steps=4", "train.epochs=1",
                                  "train.train_subset=512", "train.eval_batch_size=2000"])
    train.fit(cfg, root / "nested" / "cnn", data_root=mnist_root, progress=False)
    cfg = config.resolve("smnist-rows", ["model.hidden=[16]", "train.epochs=1", "train.train_subset=512",
                                         "train.eval_batch_size=2000"])
    train.fit(cfg, root / "rows", data_root=mnist_root, progress=False)
    cfg = config.resolve("nmnist-sim", ["model.conv=4C5-MP2", "model.hidden=[16]", "train.num_steps=6",
                                        "train.epochs=1", "train.train_subset=256", "train.test_subset=128"])
    train.fit(cfg, root / "nmnist", data_root=mnist_root, progress=False)
    return root


@pytest.fixture(scope="session")
def server(tmp_path_factory, runs_dir):
    served = PlayServer(tmp_path_factory.mktemp("play-server"), str(runs_dir))
    yield served
    served.stop()


@pytest.fixture()
def page(browser, server):
    """A fresh page on the server, with every request it makes and every error it logs recorded."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.requests, page.errors = [], []
    page.on("request", lambda r: page.requests.append(r.url))
    page.on("console", lambda m: page.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.goto(server.url)
    page.wait_for_selector("body[data-ready=true]")
    yield page
    context.close()


def draw(page, digit: int, seed: int) -> None:
    """Draw one hand's ``digit`` on the pad with the mouse, stroke by stroke, and wait for the pictures."""
    box = page.locator("#pad").bounding_box()
    scale = box["width"] / drawn.CANVAS
    for stroke in drawn.strokes(digit, np.random.default_rng(seed)):
        points = [(box["x"] + x * scale, box["y"] + y * scale) for x, y in stroke]
        page.mouse.move(*points[0])
        page.mouse.down()
        for point in points[1:]:
            page.mouse.move(*point, steps=2)
        page.mouse.up()
    page.wait_for_selector("body[data-busy=false]")


def shown(page) -> dict:
    """What the page shows: the prediction, the final spike count of each bar, the top three, the message."""
    return {
        "prediction": page.locator("#predicted").text_content(),
        "counts": [int(t) for t in page.locator("#bars .bar span:last-child").all_text_contents()],
        "top": page.locator("#top li").all_text_contents(),
        "message": page.locator("#message").text_content(),
    }


def predict(capsys, run: Path, picture: Path) -> dict:
    """``spikevision predict RUN PICTURE --json``'s answer."""
    capsys.readouterr()
    assert main(["predict", str(run), str(picture), "--json"]) == 0
    return json.loads(capsys.readouterr().out)[0]


def pad_picture(page, path: Path) -> Path:
    """The pad's current picture, as the PNG the page sends, written to ``path``."""
    url = page.evaluate("document.getElementById('pad').toDataURL('image/png')")
    path.write_bytes(base64.b64decode(url.split(",", 1)[1]))
    return path


def test_the_page_loads_offering_every_run_and_nothing_leaves_localhost(page, server):
    assert page.locator("#run option").all_text_contents() == ["mlp", "nested/cnn", "nmnist", "rows"]
    draw(page, 4, seed=1)
    assert page.requests and all(url.startswith(server.url) or url.startswith("data:") for url in page.requests), \
        page.requests
    assert page.errors == []
    headers = urllib.request.urlopen(server.url, timeout=30).headers
    assert "default-src 'self'" in headers["Content-Security-Policy"]  # the browser refuses anything else too


@pytest.mark.parametrize("digit,seed", [(3, 11), (7, 12)])
def test_a_digit_drawn_with_the_mouse_gets_the_prediction_of_spikevision_predict(page, runs_dir, tmp_path, capsys,
                                                                                 digit, seed):
    draw(page, digit, seed)
    on_page = shown(page)
    expected = predict(capsys, runs_dir / "mlp", pad_picture(page, tmp_path / "pad.png"))
    assert on_page["prediction"] == str(expected["prediction"])
    assert on_page["counts"] == expected["spike_counts"]
    assert on_page["top"][0].startswith(f"{expected['prediction']}: ")
    # The 28x28 picture the network received is predict's own preprocessing of the same picture.
    received = np.array(page.evaluate("window.spikevisionPlay.result.image"), dtype=np.float32)
    made = preprocess.image_file_to_mnist(tmp_path / "pad.png").numpy().ravel()
    np.testing.assert_allclose(received, made, atol=6e-4)


def test_an_uploaded_mnist_test_image_gets_the_prediction_of_spikevision_predict(page, runs_dir, mnist_test,
                                                                              tmp_path, capsys):
    for index in (0, 1, 2):
        picture = tmp_path / f"mnist-{index}.png"
        picture.write_bytes(png(mnist_test.images[index].numpy()))
        page.set_input_files("#upload", str(picture))
        page.wait_for_selector("body[data-busy=false]")
        expected = predict(capsys, runs_dir / "mlp", picture)
        assert shown(page)["prediction"] == str(expected["prediction"])
        assert shown(page)["counts"] == expected["spike_counts"]


def photo_of_a_drawn_digit(digit: int, path: Path) -> Path:
    """A JPEG like a phone photo of a digit on paper: dark ink, paper lit unevenly, sensor noise, 1600x1200."""
    rng = np.random.default_rng(digit)
    ink = drawn.render(drawn.strokes(digit, rng, size=1200), size=1200, width=70).astype(np.float32) / 255
    ink = np.pad(ink, ((0, 0), (200, 200)))  # a wider picture than tall, as photos are
    light = np.linspace(175, 235, ink.shape[1], dtype=np.float32)[None, :] - np.linspace(0, 25, ink.shape[0])[:, None]
    paper = light + rng.normal(0, 4, ink.shape)
    Image.fromarray(np.clip(paper * (1 - ink) + 45 * ink, 0, 255).astype(np.uint8)).convert("RGB").save(
        path, format="JPEG", quality=85)
    return path


def test_an_uploaded_photo_of_a_digit_on_paper_gets_the_prediction_of_spikevision_predict(page, runs_dir,
                                                                                       tmp_path, capsys):
    photo = photo_of_a_drawn_digit(2, tmp_path / "photo.jpg")
    page.set_input_files("#upload", str(photo))
    page.wait_for_selector("body[data-busy=false]")
    expected = predict(capsys, runs_dir / "mlp", photo)
    assert shown(page)["message"] == ""
    assert shown(page)["prediction"] == str(expected["prediction"])
    assert shown(page)["counts"] == expected["spike_counts"]
    received = np.array(page.evaluate("window.spikevisionPlay.result.image"), dtype=np.float32).reshape(28, 28)
    # The digit, not the unevenly lit paper, was found: MNIST's geometry, the ink's box 20 pixels across.
    rows, cols = np.flatnonzero(received.max(1) > 0.1), np.flatnonzero(received.max(0) > 0.1)
    assert 19 <= max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1 <= 21, (rows, cols)


def test_a_pen_or_a_finger_draws_too(page):
    box = page.locator("#pad").bounding_box()
    for kind in ("pen", "touch"):
        page.click("#clear")
        points = [(140, 40), (140, 120), (141, 200), (140, 250)]  # a 1
        for i, (x, y) in enumerate(points):
            event = "pointerdown" if i == 0 else "pointermove"
            page.dispatch_event("#pad", event, {"pointerType": kind, "pointerId": 7, "isPrimary": True,
                                                "clientX": box["x"] + x, "clientY": box["y"] + y, "buttons": 1})
        page.dispatch_event("#pad", "pointerup", {"pointerType": kind, "pointerId": 7, "isPrimary": True,
                                                  "clientX": box["x"] + 140, "clientY": box["y"] + 250})
        page.wait_for_selector("body[data-busy=false]")
        assert shown(page)["prediction"].isdigit() and shown(page)["message"] == "", kind
    assert page.errors == []


def test_changing_the_coding_and_the_steps_updates_the_pictures(page):
    draw(page, 2, seed=3)
    assert page.locator("#input-raster").is_hidden()  # the run's own coding is direct: no input spikes
    page.select_option("#encoding", "rate")
    page.wait_for_selector("body[data-busy=false]")
    result = page.evaluate("({coding: window.spikevisionPlay.result.coding,"
                           " spikes: Array.from(window.spikevisionPlay.result.input.data).reduce((a, b) => a + b, 0)})")
    assert result["coding"] == {"encoding": "rate", "options": {"gain": 1.0}, "steps": 8}
    assert result["spikes"] > 0 and page.locator("#input-raster").is_visible()
    page.locator("#steps").fill("20")
    page.locator("#steps").dispatch_event("change")
    page.wait_for_selector("body[data-busy=false]")
    assert page.locator("#time").get_attribute("max") == "19"
    assert page.locator("#time-out").text_content() == "step 20 of 20"
    assert "trained with direct coding, 8 steps" in page.locator("#coding-note").text_content()
    page.click("#own-coding")
    page.wait_for_selector("body[data-busy=false]")
    assert page.evaluate("window.spikevisionPlay.result.coding") == {"encoding": "direct", "options": {}, "steps": 8}


def test_scrubbing_time_shows_the_spike_counts_so_far(page):
    draw(page, 0, seed=4)
    final = shown(page)["counts"]
    page.locator("#time").fill("0")
    page.locator("#time").dispatch_event("input")
    at_first = shown(page)["counts"]
    first_step = page.evaluate("Array.from(window.spikevisionPlay.result.output.spikes.data.slice(0, 10))")
    assert at_first == first_step and sum(at_first) <= sum(final)
    assert page.locator("#time-out").text_content() == "step 1 of 8"
    # The top three count what the bars count (so far), with the whole window's count beside it
    for line in shown(page)["top"]:
        label, rest = line.split(": ")
        assert rest.startswith(f"{at_first[int(label)]} spike") and rest.endswith(f"{final[int(label)]} by step 8")


def test_the_membranes_match_the_bars_colours_and_their_labels_stay_apart(page):
    draw(page, 8, seed=7)
    drawn = page.evaluate("""() => ({
        labels: window.spikevisionPlay.membraneLabels,
        bars: Array.from(document.querySelectorAll('#bars .bar span:nth-child(2)')).map((s) => s.style.background),
    })""")
    labels = sorted(drawn["labels"])
    assert len(labels) == 10 and all(b - a >= 11 - 1e-9 for a, b in zip(labels, labels[1:]))  # one line apart
    colours = page.evaluate("COLOURS")
    as_rgb = [tuple(int(c[i : i + 2], 16) for i in (1, 3, 5)) for c in colours]
    assert [tuple(map(int, re.findall(r"\d+", b))) for b in drawn["bars"]] == as_rgb  # class c: line c's colour
    assert page.errors == []


def test_a_conv_run_shows_its_feature_maps_at_the_chosen_step(page):
    page.select_option("#run", "nested/cnn")
    draw(page, 5, seed=5)
    assert page.locator("#maps-0 canvas").count() == 4  # 4C5: four feature maps
    assert page.locator("#layer-0").is_visible()
    assert page.errors == []


def test_a_rows_run_reads_the_drawn_digit_row_by_row_as_predict_does(page, runs_dir, tmp_path, capsys):
    page.select_option("#run", "rows")
    draw(page, 3, seed=6)
    coding = page.evaluate("window.spikevisionPlay.result.coding")
    assert coding == {"encoding": "rows", "options": {}, "steps": 28}
    assert page.locator("#encoding").input_value() == "rows"
    expected = predict(capsys, runs_dir / "rows", pad_picture(page, tmp_path / "pad.png"))
    on_page = shown(page)
    assert on_page["prediction"] == str(expected["prediction"])
    # Its leaky-integrator readout never spikes: the top three by mean membrane, the prediction the highest.
    means = [float(item.split("mean membrane ")[1].split()[0]) for item in on_page["top"]]
    assert on_page["top"][0].startswith(f"{expected['prediction']}: mean membrane") and means == sorted(means)[::-1]
    assert page.locator("#input-now-caption").text_content() == "its input current at step 28: row 28"
    assert "one row of the picture per step" in page.locator("#input-note").text_content()
    # A rows network reads rows only, and only a rows network reads rows: the menu offers just that
    assert page.locator("#encoding option").all_text_contents() == ["rows"]
    page.select_option("#run", "mlp")
    page.wait_for_selector("body[data-busy=false]")
    assert page.locator("#encoding option").all_text_contents() == ["direct", "rate", "latency"]


def test_an_events_run_sees_the_drawn_digit_move_as_an_event_camera_would(page, runs_dir, tmp_path, capsys):
    page.select_option("#run", "nmnist")
    draw(page, 5, seed=8)
    coding = page.evaluate("window.spikevisionPlay.result.coding")
    assert coding == {"encoding": "frames", "options": {}, "steps": 6}
    assert page.locator("#encoding option").all_text_contents() == ["events (DVS)"]
    expected = predict(capsys, runs_dir / "nmnist", pad_picture(page, tmp_path / "pad.png"))
    assert shown(page)["prediction"] == str(expected["prediction"])
    shape = page.evaluate("window.spikevisionPlay.result.input.shape")
    assert shape == [6, 2, 34, 34]
    assert page.evaluate("document.getElementById('input-now').width") == 34
    assert "time bin 6 (orange ON, blue OFF)" in page.locator("#input-now-caption").text_content()
    lit = page.evaluate("""(() => { const c = document.getElementById('input-now');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let on = 0, off = 0;
        for (let i = 0; i < d.length; i += 4) { if (d[i] === 230) on++; if (d[i + 2] === 178) off++; }
        return [on, off]; })()""")
    assert lit[0] > 0 and lit[1] > 0  # the moving digit's leading and trailing edges
    page.select_option("#run", "mlp")
    page.wait_for_selector("body[data-busy=false]")
    assert page.evaluate("document.getElementById('input-now').width") == 28
    assert "events (DVS)" not in page.locator("#encoding option").all_text_contents()


def test_a_bad_upload_gets_its_message_and_the_page_keeps_working(page, tmp_path):
    notes = tmp_path / "notes.png"
    notes.write_text("these are my notes, not a picture\n")
    page.set_input_files("#upload", str(notes))
    page.wait_for_selector("body[data-busy=false]")
    assert "not a readable image" in shown(page)["message"]
    page.click("#clear")
    draw(page, 1, seed=6)
    assert shown(page)["message"] == "" and shown(page)["prediction"].isdigit()


def test_the_server_refuses_big_bodies_huge_pictures_and_bad_queries_and_goes_on(server):
    look = server.url + "api/look"
    status, answer = request(look, b"\0" * 10_000_001)
    assert status == 413 and answer["error"] == "the upload is 10,000,001 bytes; the limit is 10,000,000 bytes"
    assert answer["reason"] == "body_too_large" and answer["values"] == {"size": 10_000_001, "limit": 10_000_000}
    huge = png(np.zeros((5000, 5001), np.uint8))  # 25,005,000 pixels, a small file
    status, answer = request(look, huge)
    assert status == 400 and "too large (max 25,000,000 pixels)" in answer["error"]
    assert answer["reason"] == "too_many_pixels" and answer["values"] == {"width": 5001, "height": 5000,
                                                                           "limit": 25_000_000}
    digit = png(drawn.render(drawn.strokes(6, np.random.default_rng(0))))
    for query, needle in [("?encoding=morse", "encoding must be one of"), ("?steps=0", "steps must be"),
                          ("?steps=ten", "steps must be a whole number"), ("?gain=0.5", "not an option of direct"),
                          ("?encoding=rate&gain=7", "gain"), ("?encoding=latency&linear=maybe", "true or false"),
                          ("?colour=red", "unknown parameter")]:
        status, answer = request(look + query, digit)
        assert status == 400 and needle in answer["error"], (query, answer)
    status, answer = request(look + "?run=..%2F..", digit)
    assert status == 404 and "no run named" in answer["error"] and answer["values"] == {"name": "../.."}
    status, answer = request(look, b"")
    assert status == 400 and "empty" in answer["error"] and answer["reason"] == "empty"
    status, answer = request(look, png(np.full((40, 40), 255, np.uint8)))
    assert status == 400 and answer["reason"] == "blank" and answer["error"] == "the image is blank: no digit found"
    status, answer = request(look, digit)
    assert status == 200 and answer["prediction"] in range(10)


def test_the_server_serves_nothing_outside_its_static_folder(server, runs_dir):
    for path in ["static/../server.py", "static/%2e%2e/server.py", "static/..%2fserver.py", "config.json",
                 "mlp/config.json", "static/../../../cli/play_cmd.py", "api/runs/../../pyproject.toml"]:
        status, _ = request(server.url + path)
        assert status == 404, path
    status, answer = request(server.url + "api/look")  # GET where only POST is served
    assert status == 405
    assert request(server.url + "static/play.js")[0] == 200


def test_it_binds_localhost_by_default_warns_on_other_hosts_and_stops_on_ctrl_c(tmp_path, runs_dir):
    default = PlayServer(tmp_path / "default", str(runs_dir / "mlp"))
    assert default.url.startswith("http://127.0.0.1:")
    assert request(default.url + "api/runs")[1]["runs"][0]["name"] == "mlp"
    # A request that never sends the rest of its body (an upload cut half way) does not hold Ctrl-C: it held
    # the server for ever before the shutdown had its time limit.
    host, port = default.url.split("//")[1].rstrip("/").split(":")
    with socket.create_connection((host, int(port))) as half:
        half.sendall(b"POST /api/look HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nabc")
        time.sleep(0.3)
        code, out, err = default.stop()
    assert code == 0 and "stopped" in out and "listening on" not in err
    anywhere = PlayServer(tmp_path / "anywhere", str(runs_dir / "mlp"), "--host", "0.0.0.0")
    code, out, err = anywhere.stop()
    assert code == 0 and "note: listening on 0.0.0.0: anyone who can reach this machine" in err


def test_find_runs_names_runs_below_a_folder_and_refuses_what_is_not_one(runs_dir, tmp_path):
    assert [e.name for e in play_runs.find_runs(runs_dir)] == ["mlp", "nested/cnn", "nmnist", "rows"]
    assert [e.name for e in play_runs.find_runs(runs_dir / "mlp")] == ["mlp"]
    with pytest.raises(ValueError, match="holds no trained run"):
        play_runs.find_runs(tmp_path)
    with pytest.raises(FileNotFoundError, match="no such run directory"):
        play_runs.find_runs(tmp_path / "missing")
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="is a file"):
        play_runs.find_runs(tmp_path / "file")


def test_play_refuses_a_bad_port_or_a_busy_one_in_one_line(capsys, runs_dir, server):
    assert main(["play", str(runs_dir / "mlp"), "--port", "70000"]) == 2
    assert "--port must be from 0 to 65535" in capsys.readouterr().err
    busy = server.url.rsplit(":", 1)[1].strip("/")
    assert main(["play", str(runs_dir / "mlp"), "--port", busy]) == 2
    err = capsys.readouterr().err
    assert f"cannot listen on 127.0.0.1:{busy}" in err and "choose another --port" in err and err.count("\n") == 1


@pytest.fixture(scope="session")
def drawn_root(tmp_path_factory, mnist_root) -> Path:
    """A data root of its own (its MNIST linked to the shared one), for the drawn network's cache."""
    root = tmp_path_factory.mktemp("drawn-root")
    os.symlink(mnist_root / "mnist", root / "mnist")
    return root


@pytest.mark.slow
def test_play_with_no_run_trains_the_drawn_network_once_and_it_reads_drawn_digits(tmp_path, drawn_root):
    first = PlayServer(tmp_path / "first", "--root", str(drawn_root), timeout=900)
    runs = request(first.url + "api/runs")[1]["runs"]
    code, _, err = first.stop()
    assert code == 0 and "training the network for drawn digits" in err
    assert [r["name"] for r in runs] == ["drawn"] and runs[0]["preset"] == "drawn"
    # Made for drawn digits: it reads the strokes' 500 digits (not MNIST's writers) nearly as well as MNIST.
    assert runs[0]["test_accuracy"] >= 0.97 and runs[0]["drawn_accuracy"] >= 0.90, runs[0]
    assert re.search(r"drawn network ready: \d+\.\d\d % on MNIST's test set, \d+\.\d % on 500 drawn digits", err)
    networks = list((drawn_root / "networks").iterdir())
    assert [p.name.startswith("drawn-") for p in networks] == [True]  # no partial folder left beside it
    again = PlayServer(tmp_path / "again", "--root", str(drawn_root))
    code, _, err = again.stop()
    assert code == 0 and "training" not in err  # kept in the cache, not trained again


def test_drawn_digits_are_the_canvas_size_white_on_black_and_the_same_for_a_seed():
    pictures, labels = drawn.digit_set(3, seed=9)
    assert pictures.shape == (30, drawn.CANVAS, drawn.CANVAS) and pictures.dtype == np.uint8
    assert labels.tolist() == list(range(10)) * 3
    assert np.array_equal(pictures, drawn.digit_set(3, seed=9)[0])
    assert not np.array_equal(pictures, drawn.digit_set(3, seed=10)[0])
    border = np.concatenate([pictures[:, 0], pictures[:, -1], pictures[:, :, 0], pictures[:, :, -1]], axis=1)
    assert border.max() == 0 and (pictures.reshape(30, -1).max(1) == 255).all()  # ink inside, on black


def test_the_tiny_run_reads_most_drawn_digits_so_the_strokes_are_digits(tiny_run):
    from spikevision.play import drawn_network
    from spikevision.runs import rundir

    cfg, model = rundir.load_run(tiny_run)
    # A network trained seconds on 1,024 MNIST digits, with no augmentation: far above chance (10 %).
    assert drawn_network.drawn_accuracy(model, cfg.train, per_class=10) >= 0.4


def test_page_view_packs_spikes_as_bits_that_unpack_to_the_trace():
    import torch

    from spikevision.play import look

    spikes = (torch.rand(5, 3, 7, generator=torch.Generator().manual_seed(0)) < 0.3).float()
    packed = look.bits(spikes)
    raw = np.frombuffer(base64.b64decode(packed["bits"]), np.uint8)
    assert packed["shape"] == [5, 3, 7]
    assert np.array_equal(np.unpackbits(raw)[: spikes.numel()].reshape(5, 3, 7), spikes.numpy().astype(np.uint8))


def test_the_coding_query_keeps_the_runs_options_and_checks_the_rest():
    from spikevision.play import look

    cfg = config.resolve("quick", ["train.encoding=rate", "train.encoding_options={gain = 0.5}"]).train
    assert look.coding_from_query(cfg, {}).encoding_options == {"gain": 0.5}
    assert look.coding_from_query(cfg, {"gain": "0.25", "steps": "3"}).encoding_options == {"gain": 0.25}
    latency = look.coding_from_query(cfg, {"encoding": "latency", "linear": "true", "tau": "5"})
    assert latency.encoding_options == {"linear": True, "tau": 5.0} and latency.num_steps == cfg.num_steps
    with pytest.raises(ValueError, match="threshold"):
        look.coding_from_query(cfg, {"encoding": "latency", "threshold": "2"})
    assert data.classes("mnist") == tuple("0123456789")


def test_a_rows_run_is_read_row_by_row_and_other_runs_are_not_offered_rows():
    from spikevision.play import look

    rows = config.resolve("smnist-rows").train
    assert look.coding_from_query(rows, {}).encoding == "rows"
    with pytest.raises(ValueError, match="reads a picture row by row"):
        look.coding_from_query(rows, {"encoding": "rate"})
    with pytest.raises(ValueError, match="needs train.num_steps = 28"):
        look.coding_from_query(rows, {"steps": "10"})
    with pytest.raises(ValueError, match="only a network trained on rows"):
        look.coding_from_query(config.resolve("quick").train, {"encoding": "rows"})
    with pytest.raises(ValueError, match="encoding must be one of direct, rate, latency, rows"):
        look.coding_from_query(rows, {"encoding": "morse"})


def test_an_events_run_reads_pictures_as_events_and_other_runs_are_not_offered_them():
    from spikevision.data import frames as fr
    from spikevision.data import nmnist_sim
    from spikevision.play import look
    from spikevision.runs import inputs

    events = config.resolve("nmnist-sim").train
    assert look.coding_from_query(events, {}).encoding == "frames"
    with pytest.raises(ValueError, match="this network reads events"):
        look.coding_from_query(events, {"encoding": "rate"})
    with pytest.raises(ValueError, match="only a network trained on events"):
        look.coding_from_query(config.resolve("quick").train, {"encoding": "frames"})
    picture = torch.zeros(1, 1, 28, 28)
    picture[..., 5:23, 12:16] = 1.0  # a one, as a bar
    got = inputs.picture_frames(picture, events)
    sample, _ = nmnist_sim.emulate_digits(picture[:, 0].numpy(), seed=events.seed)
    assert got.shape == (1, 10, 2, 34, 34)
    assert np.array_equal(got[0].numpy(), fr.frames(sample, nmnist_sim.SENSOR, n_time_bins=10))
    with pytest.raises(ValueError, match="this network reads dvsgesture's events"):
        inputs.picture_frames(picture, config.resolve("dvsgesture").train)


def test_the_top_three_break_ties_as_the_prediction_rule_does():
    """Seen: runners-up with 0 spikes listed by class number ("2. 0: 0 spikes"), though the page's own rule
    breaks a tie by the higher mean membrane."""
    import torch

    from spikevision.analysis import inference
    from spikevision.play import look

    spk = torch.zeros(4, 10)
    spk[:, 7] = 1  # class 7: 4 spikes; every other class none
    mem = torch.zeros(4, 10)
    mem[:, 3], mem[:, 5], mem[:, 0] = 0.9, 0.5, -0.2  # among the silent ones, 3 then 5 are closest to firing
    trace = inference.Trace(torch.zeros(28, 28), torch.zeros(4, 1, 28, 28), False, (), (), spk, mem, 7)
    assert [t["class"] for t in look.page_view(trace, config.resolve("quick").train, 1.0)["top"]] == [7, 3, 5]
    assert trace.top(3, "spikes") == [(7, 4), (0, 0), (1, 0)]  # the handout's rule: the lowest class index
    membrane = config.resolve("smnist-rows").train
    assert [t["class"] for t in look.page_view(trace, membrane, None)["top"]] == [7, 3, 5]


# Words that are names, not English: the program and its commands, the runs' names, kinds and presets, the layers',
# units, the other language's name on the switch, and the latency code's symbol (tau, as the handout writes it).
# Names the Chinese page keeps as they are: the program's, units, and the event camera's terms (a DVS's ON and
# OFF events, N-MNIST), which Chinese texts on event cameras write in Latin letters too.
NAMES = {"spikevision", "play", "predict", "ms", "MB", "English", "tau", "DVS", "ON", "OFF", "MNIST"}


def visible_words(page) -> set[str]:
    """Latin words the page shows anywhere: its text, its menus' options, its controls' aria labels."""
    text = page.evaluate("""() => [document.body.innerText,
        ...Array.from(document.querySelectorAll('option')).map((o) => o.textContent),
        ...Array.from(document.querySelectorAll('[aria-label]')).map((e) => e.getAttribute('aria-label'))].join(' ')""")
    return set(re.findall(r"[A-Za-z]{2,}", text))


@pytest.mark.parametrize("run", ["mlp", "nested/cnn", "nmnist", "rows"])
def test_the_page_in_chinese_shows_no_english_but_names(browser, server, run):
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="en-US")
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(server.url + "?lang=zh")  # asked for, whatever the browser's language
    page.wait_for_selector("body[data-ready=true]")
    page.select_option("#run", run)
    draw(page, 3, seed=8)
    names = set(re.findall(r"[A-Za-z]{2,}", page.evaluate("""() => window.spikevisionPlay.runs
        .flatMap((r) => [r.name, r.kind, r.preset || ''])
        .concat(window.spikevisionPlay.result.layers.map((l) => l.name))
        .join(' ')""")))
    assert page.evaluate("document.documentElement.lang") == "zh-CN"
    assert visible_words(page) - NAMES - names == set()
    assert "第 " in page.locator("#time-out").text_content() and "预测" in page.locator("#prediction").inner_text()
    page.click("#language")  # the switch to English
    page.wait_for_selector("body[data-ready=true]")
    assert page.evaluate("document.documentElement.lang") == "en" and "Draw a digit" in page.inner_text("body")
    assert errors == []
    context.close()


def reasons_raised() -> set[str]:
    """Every ``reason=`` a module under the play page raises with (the page's pictures and the server's own)."""
    import ast

    package = Path(preprocess.__file__).parent.parent
    found = set()
    for path in [package / "data" / "preprocess.py", *(package / "play").glob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.keyword) and node.arg == "reason" and isinstance(node.value, ast.Constant):
                found.add(node.value.value)
    return found


def test_the_chinese_page_words_every_refusal_of_the_server_in_chinese(browser, server, tmp_path):
    context = browser.new_context(locale="zh-CN")
    page = context.new_page()
    page.goto(server.url)
    page.wait_for_selector("body[data-ready=true]")
    worded = set(page.evaluate("Object.keys(STRINGS.zh.refusals)"))
    assert worded == reasons_raised() and {"not_an_image", "blank", "body_too_large"} <= worded
    notes, blank = tmp_path / "notes.png", tmp_path / "blank.png"
    notes.write_text("these are my notes, not a picture\n")
    Image.new("L", (60, 60), 255).save(blank)
    for picture, words in [(notes, "不是图片"), (blank, "空白")]:
        page.set_input_files("#upload", str(picture))
        page.wait_for_selector("body[data-busy=false]")
        message = shown(page)["message"]
        assert words in message and set(re.findall(r"[A-Za-z]{2,}", message)) <= {"PNG", "JPEG"}, message
    # A refusal the table has no words for (a query the page never sends) keeps the server's detail, framed in
    # Chinese; the English page shows the server's message as it is.
    body = {"error": "steps must be a whole number from 1 to 100; got 0", "reason": None, "values": {}}
    assert page.evaluate("(body) => refusalText(body, 400)", body) == f"服务器拒绝了请求（400）：{body['error']}"
    page.goto(server.url + "?lang=en")
    page.wait_for_selector("body[data-ready=true]")
    assert page.evaluate("(body) => refusalText(body, 400)", {**body, "reason": "blank"}) == body["error"]
    context.close()


def test_a_chinese_browser_gets_the_chinese_page(browser, server):
    context = browser.new_context(locale="zh-CN")
    page = context.new_page()
    page.goto(server.url)
    page.wait_for_selector("body[data-ready=true]")
    assert page.locator("#clear").text_content() == "清除" and page.locator("#language").text_content() == "English"
    context.close()
