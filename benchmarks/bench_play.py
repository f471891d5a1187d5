"""How live `spikevision play` feels: milliseconds from a finished stroke to updated pictures, per preset.

For each preset it starts the real command (``spikevision play RUN --port 0``), opens the page in Debian's
chromium, draws ``--digits`` digits with mouse events along ``spikevision.data.drawn``'s strokes (clearing the pad
before each), and reads the page's own timings: from the stroke's ``pointerup`` to the last picture drawn,
and the server's part of it. Latency depends on the network's shape, not its weights, so a preset with no
run given is trained briefly (``--train-subset`` images, one epoch) into a temporary folder; say ``--run``
to time a run of your own.

Run:  python benchmarks/bench_play.py                         (quick and conv, 20 digits each)
      python benchmarks/bench_play.py --presets quick,conv,drawn --digits 40 --json out.json
      python benchmarks/bench_play.py --run runs/demo/quick
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))  # the tests' PlayServer and draw() drive the real page

CHROMIUM = "/usr/bin/chromium"
TARGET_MS = {"quick": 300, "conv": 600}  # the targets on a 2-core machine


def brief_run(preset: str, out: Path, train_subset: int) -> Path:
    """A run of ``preset``'s network trained on ``train_subset`` images for one epoch (its shape is what counts)."""
    from spikevision.runs import config, train

    cfg = config.resolve(preset, [f"train.train_subset={train_subset}", "train.epochs=1"])
    train.fit(cfg, out, progress=False)
    return out


def time_page(run: Path, digits: int, browser, tmp: Path) -> list[dict]:
    """Draw ``digits`` digits on the page serving ``run``; the page's timing of each."""
    from test_play import PlayServer, draw

    server = PlayServer(tmp / "server", str(run))
    try:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(server.url)
        page.wait_for_selector("body[data-ready=true]")
        draw(page, 8, seed=999)  # a first picture, not timed (the browser warms up its canvases too)
        for i in range(digits):
            page.click("#clear")
            draw(page, i % 10, seed=i)
        timings = page.evaluate("window.spikevisionPlay.timings")[1:]
        page.close()
    finally:
        server.stop()
    # Each multi-stroke digit sends a picture per stroke: every one of them is a "finished stroke".
    return [{"total_ms": t["drawn"] - t["started"], "server_ms": t["server_ms"]} for t in timings]


def summarise(name: str, timings: list[dict]) -> dict:
    totals = sorted(t["total_ms"] for t in timings)
    return {"preset": name, "strokes": len(totals), "median_ms": statistics.median(totals),
            "p90_ms": totals[int(0.9 * (len(totals) - 1))], "max_ms": totals[-1],
            "server_median_ms": statistics.median(t["server_ms"] for t in timings),
            "target_ms": TARGET_MS.get(name)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", default="quick,conv", help="comma-separated presets (default quick,conv)")
    parser.add_argument("--run", type=Path, action="append", default=[], help="time this run instead (repeatable)")
    parser.add_argument("--digits", type=int, default=20, help="digits drawn per preset (default 20)")
    parser.add_argument("--train-subset", type=int, default=256, help="images a brief run trains on (default 256)")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    rows = []
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM,
                                     args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        targets = [(str(run), run) for run in args.run] or [
            (p, brief_run(p, Path(tmp) / p, args.train_subset)) for p in args.presets.split(",")]
        for name, run in targets:
            rows.append(summarise(name, time_page(run, args.digits, browser, Path(tmp) / f"page-{len(rows)}")))
        browser.close()
    print("| preset | strokes | median ms | p90 ms | max ms | server median ms | target |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | --- |")
    for r in rows:
        target = f"< {r['target_ms']} ms" if r["target_ms"] else ""
        print(f"| {r['preset']} | {r['strokes']} | {r['median_ms']:.0f} | {r['p90_ms']:.0f} | {r['max_ms']:.0f} | "
              f"{r['server_median_ms']:.0f} | {target} |")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
