"""Accessibility helpers: axe-core (bundled by axe-playwright-python, injected from disk, no CDN) and reflow."""

from __future__ import annotations

from typing import Any

from axe_playwright_python.sync_playwright import Axe

BLOCKING_IMPACTS = {"serious", "critical"}
_axe = Axe()

# Widths (CSS pixels) at which the page must not scroll sideways: a 360px phone, and a 1280px window at 200%
# zoom (which lays out exactly like a 640px-wide viewport).
REFLOW_WIDTHS = {"360px-wide screen": (360, 740), "200% zoom": (640, 450)}

_OVERFLOW_JS = """() => {
  const doc = document.documentElement;
  const limit = doc.clientWidth;
  const culprits = [];
  if (doc.scrollWidth > limit) {
    for (const el of document.body.querySelectorAll('*')) {
      const r = el.getBoundingClientRect();
      if (r.right > limit + 1 && r.width > 0) {
        const name = el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
          (el.className && typeof el.className === 'string' ? '.' + el.className.trim().split(/\\s+/).join('.') : '');
        culprits.push(name + ' (right edge ' + Math.round(r.right) + 'px)');
        if (culprits.length >= 5) break;
      }
    }
  }
  return {scrollWidth: doc.scrollWidth, clientWidth: limit, culprits};
}"""


def serious_violations(page: Any) -> list[str]:
    """axe-core violations with impact serious or critical, one readable line per rule."""
    results = _axe.run(page)
    lines = []
    for v in results.response.get("violations", []):
        if v.get("impact") not in BLOCKING_IMPACTS:
            continue
        targets = ", ".join(" ".join(map(str, n.get("target", []))) for n in v.get("nodes", [])[:5])
        lines.append(f"axe {v['impact']}: {v['id']} ({v['help']}) at {targets}")
    return lines


def horizontal_overflow(page: Any) -> list[str]:
    """Widths at which the page body scrolls sideways; restores the viewport afterwards."""
    original = page.viewport_size
    problems = []
    try:
        for label, (width, height) in REFLOW_WIDTHS.items():
            page.set_viewport_size({"width": width, "height": height})
            result = page.evaluate(_OVERFLOW_JS)
            if result["scrollWidth"] > result["clientWidth"]:
                problems.append(
                    f"scrolls sideways at {label}: content {result['scrollWidth']}px > {result['clientWidth']}px; "
                    f"widest: {'; '.join(result['culprits']) or 'unknown'}"
                )
    finally:
        if original:
            page.set_viewport_size(original)
    return problems
