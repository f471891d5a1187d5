"""`spikevision report`: one self-contained HTML page, checked in a real headless browser (Debian's chromium).

The browser is the system's ``/usr/bin/chromium`` driven by Playwright (``make test`` installs it when it
is missing). Without it these tests fail, never skip: the page must be seen working in a browser.
"""

from __future__ import annotations

import base64
import html
import io
import json
import os
import re
import shutil

import pytest
import torch
from conftest import TINY_RUN_STEPS as STEPS
from PIL import Image

from spikevision import report
from spikevision.cli import main


@pytest.fixture(scope="session")
def report_run(tmp_path_factory, tiny_run):
    """A copy of the shared tiny run: the report writes into its run directory."""
    run_dir = tmp_path_factory.mktemp("report-run") / "run"
    shutil.copytree(tiny_run, run_dir)
    return run_dir


@pytest.fixture(scope="session")
def built(report_run, mnist_root):
    """The report of ``report_run`` written by the command, and what the command printed."""
    import contextlib

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        rc = main(["report", str(report_run), "--root", str(mnist_root)])
    assert rc == 0
    return report_run / "report.html", out.getvalue()


def _data_uris(page_html: str) -> list[tuple[str, bytes]]:
    return [(mime, base64.b64decode(payload))
            for mime, payload in re.findall(r'src="data:(image/[a-z]+);base64,([A-Za-z0-9+/=]+)"', page_html)]


def test_report_loads_in_chromium_without_errors_requests_or_broken_images(built, browser):
    path, printed = built
    assert str(path) in printed and path.resolve().as_uri() in printed
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    problems, requests = [], []
    page.on("console", lambda msg: problems.append(f"console {msg.type}: {msg.text}") if msg.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    page.on("requestfailed", lambda req: problems.append(f"failed request: {req.url}"))
    page.on("request", lambda req: requests.append(req.url))
    page.goto(path.resolve().as_uri(), wait_until="load")
    page.wait_for_load_state("networkidle")
    images = page.evaluate("[...document.images].map(i => [i.complete, i.naturalWidth, i.naturalHeight, i.alt])")
    anchors = page.evaluate("[...document.querySelectorAll('nav a')].map(a => a.getAttribute('href'))")
    targets = page.evaluate("[...document.querySelectorAll('nav a')].map(a => !!document.querySelector(a.hash))")
    title = page.title()
    text = page.inner_text("body")
    page.close()

    assert problems == []
    assert requests and all(url.startswith(("file://", "data:")) for url in requests), requests
    # loss, confusion, right and wrong examples, layers, membranes, spike counts, rate and latency movies.
    assert len(images) == 9
    assert all(complete and width > 0 and height > 0 for complete, width, height, _ in images), images
    assert anchors == ["#summary", "#config", "#training", "#results", "#predictions", "#inside", "#activity",
                       "#encoding"]
    assert all(targets)
    assert title == f"spikevision run report: {path.parent.name}"
    assert "This is an estimate, not a measurement." in text


def test_report_is_self_contained(built):
    path, _ = built
    page_html = path.read_text(encoding="utf-8")
    # Every src and href points into the page itself: a data URI or an anchor.
    for attribute, value in re.findall(r'\b(src|href)="([^"]*)"', page_html):
        assert value.startswith("data:") if attribute == "src" else value.startswith("#"), value
    assert "<script" not in page_html and "@import" not in page_html and "url(" not in page_html
    assert "default-src 'none'" in page_html  # the browser itself refuses anything but inline images
    decoded = _data_uris(page_html)
    assert sorted({mime for mime, _ in decoded}) == ["image/gif", "image/png"]
    for mime, payload in decoded:
        with Image.open(io.BytesIO(payload)) as img:
            assert img.format == mime.split("/")[1].upper() and min(img.size) > 0
    gifs = [payload for mime, payload in decoded if mime == "image/gif"]
    frame_counts = []
    for payload in gifs:
        with Image.open(io.BytesIO(payload)) as img:
            frame_counts.append(img.n_frames)
    # The spike-count bars of the run (8 steps) and rate / latency movies at the report's minimum of 10 steps.
    assert frame_counts == [STEPS, 10, 10]


def test_report_numbers_match_the_evaluation_and_the_test_set(built, mnist_test):
    path, _ = built
    page_html = path.read_text(encoding="utf-8")
    evaluation = json.loads((path.parent / "evaluation.json").read_text())
    summary = json.loads((path.parent / "summary.json").read_text())
    # The report's evaluation repeats the one at the end of training (same model, same direct input).
    assert evaluation["accuracy"] == summary["test_accuracy"]
    assert f"<strong>{evaluation['accuracy'] * 100:.2f}%</strong> on 10,000" in page_html
    per_class = re.findall(r"<tr><td>(\d)</td><td>([\d,]+) / ([\d,]+)</td>", page_html)
    totals = torch.bincount(mnist_test.labels, minlength=10).tolist()
    assert [int(c) for c, _, _ in per_class] == list(range(10))
    assert [int(n.replace(",", "")) for _, _, n in per_class] == totals
    right = [row[i] for i, row in enumerate(evaluation["confusion"])]
    assert [int(r.replace(",", "")) for _, r, _ in per_class] == right
    energy = evaluation["energy"]
    assert f"{energy['snn_nj_per_sample']:,.1f} nJ" in page_html
    assert f"{energy['ann_nj_per_sample']:,.1f} nJ" in page_html
    spikes = evaluation["spikes_per_sample"]["layers"]
    assert re.search(rf"<td>fc1</td><td>512</td><td>{spikes[0]:,.1f}</td>", page_html)
    assert re.search(rf"<td>fc2</td><td>10</td><td>{spikes[1]:,.1f}</td>", page_html)
    assert html.escape("Test image") in page_html


def test_report_reuses_a_current_evaluation_and_shows_the_runs_own_encode_movies(report_run, built, mnist_root,
                                                                                 capsys):
    evaluation = report_run / "evaluation.json"
    stamp = evaluation.stat().st_mtime_ns
    assert main(["encode", "--coding", "rate", "--num-steps", "6", "--index", "3", "--root", str(mnist_root),
                 "--out", str(report_run / "encode-rate")]) == 0
    capsys.readouterr()
    path = report.build_report(report_run, root=mnist_root, examples=1)
    assert evaluation.stat().st_mtime_ns == stamp  # newer than the checkpoint: not evaluated again
    page_html = path.read_text(encoding="utf-8")
    assert "encode-rate/digit3-label0-rate.gif" in page_html
    gifs = [p for mime, p in _data_uris(page_html) if mime == "image/gif"]
    assert gifs[-1] == (report_run / "encode-rate" / "digit3-label0-rate.gif").read_bytes()
    # A checkpoint newer than the evaluation makes the report evaluate again.
    os.utime(evaluation, ns=(stamp - 10**9, stamp - 10**9))
    os.utime(report_run / "checkpoint.safetensors", ns=(stamp, stamp))
    report.build_report(report_run, root=mnist_root, examples=1)
    assert evaluation.stat().st_mtime_ns > stamp - 10**9
    for p in (report_run / "encode-rate").iterdir():
        p.unlink()
    (report_run / "encode-rate").rmdir()


def test_bad_input_is_a_clear_error(capsys, tmp_path, report_run):
    assert main(["report", str(tmp_path)]) == 2
    assert "no config.json" in capsys.readouterr().err
    assert main(["report", str(report_run), "--examples", "0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "examples must be a whole number >= 1" in err[0]


def test_report_says_the_accuracy_it_computed_when_the_run_directory_cannot_be_written(tmp_path, tiny_run,
                                                                                       mnist_root, capsys):
    import shutil

    run_dir = tmp_path / "run"
    shutil.copytree(tiny_run, run_dir)
    (run_dir / "evaluation.json").unlink(missing_ok=True)
    (run_dir / "evaluation.json").mkdir()  # stands in for an unwritable directory when tests run as root
    assert main(["report", str(run_dir), "--root", str(mnist_root)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Is a directory" in err
    assert re.search(r"the run's test accuracy is \d+\.\d\d% on 10,000 images \(not saved\)", err), err
