"""Keyboard-only use: reaching controls with Tab and seeing where the focus is."""

from __future__ import annotations


def focus_by_tab(page, locator, limit: int = 80) -> int:
    """Presses Tab until ``locator`` has the focus; returns how many presses it took."""
    target = locator.element_handle()
    for presses in range(1, limit + 1):
        page.keyboard.press("Tab")
        if page.evaluate("el => el === document.activeElement", target):
            return presses
    raise AssertionError(f"Tab never reached {locator} in {limit} presses")


def focus_indicator(page) -> dict:
    """The computed outline and box shadow of the focused element (its :focus-visible look)."""
    return page.evaluate("""() => {
        const el = document.activeElement, style = getComputedStyle(el);
        return {matches: el.matches(':focus-visible'), outlineStyle: style.outlineStyle,
                outlineWidth: parseFloat(style.outlineWidth), boxShadow: style.boxShadow,
                tag: el.tagName};
    }""")


def focus_is_visible(page) -> bool:
    look = focus_indicator(page)
    outlined = look["outlineStyle"] != "none" and look["outlineWidth"] > 0
    shadowed = look["boxShadow"] not in ("", "none")
    return look["matches"] and (outlined or shadowed)
