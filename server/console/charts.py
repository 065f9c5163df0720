"""Server-rendered charts: the geometry of a dot-and-whisker chart (mean and 95%
interval per group, on the 0-1 score scale), which the template draws as SVG.
No script runs in the browser; the numbers are also given as a table."""

from __future__ import annotations

WIDTH = 640
LABEL_W = 150  # left margin for group labels
RIGHT_W = 120  # right margin for n and the share at or above the threshold
ROW_H = 26
TOP = 28
PLOT_W = WIDTH - LABEL_W - RIGHT_W


def x_of(value: float) -> float:
    """Position of a score (0-1) on the plot."""
    return round(LABEL_W + max(0.0, min(1.0, value)) * PLOT_W, 1)


def group_label(group: dict) -> str:
    return " · ".join("—" if v is None else str(v) for v in group.values())


def dot_whisker(groups: list[dict], score: str, threshold: float | None) -> dict:
    """Rows to draw for one score: label, mean dot, interval whisker, n, share."""
    rows = []
    for i, g in enumerate(groups):
        s = g["scores"].get(score) or {}
        y = TOP + i * ROW_H + ROW_H / 2
        mean, ci = s.get("mean"), s.get("ci95")
        rows.append({
            "label": group_label(g["group"]), "y": y, "n": s.get("n", 0), "mean": mean,
            "median": s.get("median"), "ci": ci, "share": s.get("at_or_above"),
            "x": x_of(mean) if mean is not None else None,
            "x_lo": x_of(ci[0]) if ci else None, "x_hi": x_of(ci[1]) if ci else None,
        })
    height = TOP + max(1, len(rows)) * ROW_H + 12
    ticks = [{"value": t / 4, "x": x_of(t / 4)} for t in range(5)]
    return {"score": score, "width": WIDTH, "height": height, "rows": rows, "ticks": ticks,
            "top": TOP, "bottom": height - 12, "label_w": LABEL_W,
            "right_x": WIDTH - RIGHT_W + 26,
            "threshold_x": x_of(threshold) if threshold is not None else None}
