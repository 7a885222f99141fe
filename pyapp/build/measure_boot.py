"""Boot timings of the embedded chat in headless Chromium (needs the `test` extra: Playwright).

    python -m pyapp.build.measure_boot http://127.0.0.1:8080/chat/embed-example.html [runs]

Each run opens a fresh profile, then reloads twice; printed: seconds from navigation to the
loader's states (window.omChat.timings) and Python's own `import nio` time. Medians at the end.
The machine's load shows in these numbers: compare variants back to back.
"""

from __future__ import annotations

import statistics
import sys

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE localhost , EXCLUDE 127.0.0.1",
]


def measure(url: str, runs: int = 3) -> dict[str, list[float]]:
    from playwright.sync_api import sync_playwright

    results: dict[str, list[float]] = {k: [] for k in (
        "fresh_python_ready", "fresh_mounted", "fresh_import_nio",
        "reload_python_ready", "reload_mounted", "reload_import_nio")}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for _ in range(runs):
                # wait_for_function compiles its predicate in the page, which the pages' CSP
                # refuses (no 'unsafe-eval'); the measured boot is the same either way.
                context = browser.new_context(bypass_csp=True)
                page = context.new_page()
                for i in range(3):
                    if i == 0:
                        page.goto(url)
                    else:
                        page.reload()
                    page.wait_for_function("window.omChat && window.omChat.state === 'mounted'",
                                           timeout=120_000)
                    t = page.evaluate("window.omChat.timings")
                    kind = "fresh" if i == 0 else "reload"
                    results[f"{kind}_python_ready"].append(round(t["pythonReady"] / 1000, 2))
                    results[f"{kind}_mounted"].append(round(t["mounted"] / 1000, 2))
                    results[f"{kind}_import_nio"].append(round(t["importSeconds"], 2))
                context.close()
        finally:
            browser.close()
    return results


def main() -> int:
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    results = measure(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 3)
    for key, values in results.items():
        print(f"{key:22} median {statistics.median(values):5.2f}s  {values}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
