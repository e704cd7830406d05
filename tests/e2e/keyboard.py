"""Keyboard-only use: reaching controls with Tab and seeing where the focus is."""

from __future__ import annotations

import re

COLOR = re.compile(r"rgba?\(([\d.]+),\s*([\d.]+),\s*([\d.]+)(?:,\s*([\d.]+))?\)")


def focus_by_tab(page, locator, limit: int = 80) -> int:
    """Presses Tab until ``locator`` has the focus; returns how many presses it took."""
    target = locator.element_handle()
    for presses in range(1, limit + 1):
        page.keyboard.press("Tab")
        if page.evaluate("el => el === document.activeElement", target):
            return presses
    raise AssertionError(f"Tab never reached {locator} in {limit} presses")


def focus_indicator(page) -> dict:
    """How the focused element looks: its :focus-visible state, outline, box shadow, and the
    page background the ring is drawn on."""
    # Pico animates the focus ring in: read it once its transitions have finished.
    return page.evaluate("""async () => {
        await Promise.all(document.getAnimations().filter(a => a instanceof CSSTransition)
                          .map(transition => transition.finished.catch(() => null)));
        const el = document.activeElement, style = getComputedStyle(el);
        let background = 'rgb(255, 255, 255)';
        for (let node = el.parentElement; node; node = node.parentElement) {
            const color = getComputedStyle(node).backgroundColor;
            if (color !== 'transparent' && !color.endsWith(', 0)')) { background = color; break; }
        }
        return {tag: el.tagName, text: (el.innerText || el.value || '').slice(0, 40),
                focusVisible: el.matches(':focus-visible'),
                outlineStyle: style.outlineStyle, outlineWidth: parseFloat(style.outlineWidth),
                outlineColor: style.outlineColor, boxShadow: style.boxShadow, background};
    }""")


def _rgba(text: str) -> tuple[float, float, float, float]:
    r, g, b, a = COLOR.match(text).groups()
    return float(r), float(g), float(b), float(a) if a is not None else 1.0


def _luminance(rgb) -> float:
    def channel(c: float) -> float:
        c /= 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = rgb
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(color: str, background: str) -> float:
    """WCAG contrast of ``color`` (alpha composited) against the opaque ``background``."""
    *fg, alpha = _rgba(color)
    bg = _rgba(background)[:3]
    seen = [alpha * f + (1 - alpha) * b for f, b in zip(fg, bg)]
    light, dark = sorted((_luminance(seen), _luminance(bg)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def focus_ring_contrast(page) -> float:
    """The contrast of the focused element's ring (outline, or else box shadow) against the
    page: WCAG asks 3:1 for a focus indicator. 0 when there is no ring at all."""
    look = focus_indicator(page)
    if not look["focusVisible"]:
        return 0.0
    rings = []
    if look["outlineStyle"] != "none" and look["outlineWidth"] >= 1:
        rings.append(look["outlineColor"])
    if look["boxShadow"] not in ("", "none"):
        rings += [m.group(0) for m in COLOR.finditer(look["boxShadow"])]
    return max((contrast(ring, look["background"]) for ring in rings), default=0.0)
