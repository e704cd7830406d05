"""Result rows as ``python -m bench`` records them, and measuring on every backend."""

from __future__ import annotations

import traceback
from collections.abc import Callable
from typing import Any


def result_row(name: str, backend: str, value: Any, unit: str, notes: str) -> dict:
    return {"name": name, "backend": backend, "value": value, "unit": unit, "notes": notes}


def on_each_backend(ctx: Any, measure: Callable[..., list[dict]], failed_name: str,
                    *args) -> list[dict]:
    """``measure(ctx, backend, *args)`` for each of the context's backends; one that raises
    gives a row named ``failed_name`` with the error in its notes, and the others still run."""
    rows: list[dict] = []
    for backend in ctx.backends:
        try:
            rows += measure(ctx, backend, *args)
        except Exception as error:  # noqa: BLE001 - the other backend still gets measured
            traceback.print_exc()
            rows.append(result_row(failed_name, backend, None, "",
                            f"failed: {type(error).__name__}: {error}"[:500]))
    return rows


def people_label(count: int) -> str:
    """1M, 100k: the size of a synthetic tree in a row's name."""
    return f"{count // 1_000_000}M" if count >= 1_000_000 and count % 1_000_000 == 0 else f"{count // 1000}k"
