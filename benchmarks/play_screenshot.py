"""The README's picture of `spikevision play`: the real page, a digit drawn on it with the mouse, a screenshot.

Run:  python benchmarks/play_screenshot.py --out docs/images/play.png            (the drawn network: trained
                                                                                  first if the cache has none)
      python benchmarks/play_screenshot.py runs/demo/quick --coding rate --out /tmp/play.png
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))  # the tests' PlayServer and draw() drive the real page


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", nargs="?", default=None, help="a run directory (default: the drawn network)")
    parser.add_argument("--out", type=Path, required=True, help="the PNG to write")
    parser.add_argument("--digit", type=int, default=3, help="the digit to draw (default 3)")
    parser.add_argument("--coding", default=None, help="switch the page to this coding first (rate, latency)")
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright
    from test_play import PlayServer, draw

    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as pw:
        server = PlayServer(Path(tmp), *([args.run] if args.run else []), timeout=900)
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium",
                                     args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(server.url)
            page.wait_for_selector("body[data-ready=true]")
            if args.coding:
                page.select_option("#encoding", args.coding)
            draw(page, args.digit, seed=7)
            args.out.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(args.out), full_page=True)
        finally:
            browser.close()
            server.stop()
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
