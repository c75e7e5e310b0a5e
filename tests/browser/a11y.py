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


# axe's colour check skips text over what it cannot resolve (a button with `background: none` inside a table cell,
# say), which is how white "Remove" buttons on white rows went unseen. This walks up to the first painted
# background itself and measures the contrast of every visible button and link's text.
MIN_CONTROL_CONTRAST = 3.0

_CONTROL_CONTRAST_JS = """() => {
  const parse = (c) => { const m = c.match(/rgba?\\(([^)]+)\\)/); if (!m) return null;
    const p = m[1].split(/[ ,\\/]+/).filter(Boolean).map(Number); return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1]; };
  const lum = ([r, g, b]) => { const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b); };
  const backdrop = (el) => {
    for (let n = el; n && n.nodeType === 1; n = n.parentElement) {
      const s = getComputedStyle(n);
      if (s.backgroundImage && s.backgroundImage !== 'none') return null;  // an image or gradient: cannot tell
      const c = parse(s.backgroundColor);
      if (c && c[3] > 0.5) return c;
    }
    return [255, 255, 255, 1];
  };
  const out = [];
  for (const el of document.querySelectorAll('button, a[href], input[type=submit], input[type=button], .button')) {
    const r = el.getBoundingClientRect();
    const s = getComputedStyle(el);
    if (r.width < 2 || r.height < 2 || s.visibility === 'hidden' || s.opacity === '0' || r.bottom < 0 || r.right < 0) continue;
    const text = (el.innerText || el.value || '').trim();
    if (!text) continue;
    const fg = parse(s.color), bg = backdrop(el);
    if (!fg || !bg) continue;
    const [hi, lo] = [lum(fg), lum(bg)].sort((a, b) => b - a);
    const ratio = (hi + 0.05) / (lo + 0.05);
    if (ratio < MIN) out.push(`"${text.slice(0, 40)}" (${el.tagName.toLowerCase()}${el.className ? '.' + String(el.className).trim().split(/\\s+/).join('.') : ''}): ${s.color} on rgb(${bg.slice(0, 3).join(', ')}), contrast ${ratio.toFixed(2)}`);
  }
  return out;
}""".replace("MIN", str(MIN_CONTROL_CONTRAST))


def unreadable_controls(page: Any) -> list[str]:
    """Visible buttons and links whose text barely differs from the background behind them."""
    return [f"unreadable control: {line}" for line in page.evaluate(_CONTROL_CONTRAST_JS)]
