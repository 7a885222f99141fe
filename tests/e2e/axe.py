"""axe-core (pinned in package.json, read from node_modules: never fetched from a CDN) run in a
page under test. The pages' CSP allows no inline script, so the library is evaluated through
the DevTools protocol (page.evaluate), which the CSP does not govern."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

AXE_JS = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
FAILING_IMPACTS = ("serious", "critical")


@lru_cache(maxsize=1)
def _source() -> str:
    if not AXE_JS.exists():
        raise RuntimeError(f"{AXE_JS} is missing: run `npm ci` (axe-core is a devDependency)")
    return AXE_JS.read_text()


def violations(page, selector: str | None = None) -> list[dict]:
    """axe's serious and critical violations on the page (or within `selector`), each with
    its rule, impact, help text and the offending nodes' selectors and HTML."""
    if not page.evaluate("typeof window.axe === 'object'"):
        page.evaluate(_source())
    found = page.evaluate("""async (selector) => {
        const context = selector ? document.querySelector(selector) : document;
        const result = await window.axe.run(context, {resultTypes: ["violations"]});
        return result.violations.map((v) => ({
            id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.map((n) => ({target: n.target.join(" "), html: n.html.slice(0, 200),
                                        summary: n.failureSummary})),
        }));
    }""", selector)
    return [v for v in found if v["impact"] in FAILING_IMPACTS]


def assert_accessible(page, what: str, selector: str | None = None) -> None:
    found = violations(page, selector)
    assert not found, f"axe-core: serious/critical violations on {what}:\n" + "\n".join(
        f"- {v['id']} ({v['impact']}): {v['help']}\n" + "\n".join(
            f"    {n['target']}: {n['html']}\n      {n['summary']}" for n in v["nodes"])
        for v in found)
