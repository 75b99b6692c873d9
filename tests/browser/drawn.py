"""What a view drew, read back from its DOM: bars, points, labels and their boxes (never pixels)."""

from __future__ import annotations

from typing import Any

BARS = """[...document.querySelectorAll('rect.bar, rect.rest-bar, rect.compare-bar')].map(r => ({
  kind: r.getAttribute('class').split(' ')[0], group: r.dataset.group, series: r.dataset.series,
  month: r.dataset.month, value: Number(r.dataset.value), x: Number(r.getAttribute('x')),
  y: Number(r.getAttribute('y')), width: Number(r.getAttribute('width')), height: Number(r.getAttribute('height')),
  cls: r.getAttribute('class')}))"""
POINTS = """[...document.querySelectorAll('circle.point')].map(c => ({series: c.dataset.series,
  period: c.dataset.period, value: Number(c.dataset.value), cx: Number(c.getAttribute('cx')),
  cy: Number(c.getAttribute('cy'))}))"""
TEXTS = "[...document.querySelectorAll({selector!r})].map(t => t.textContent)"
# Every value label that overlaps any bar (their boxes in the SVG's own units): a correct chart has none.
OVERLAPS = """(() => {
  const box = (e) => { const b = e.getBBox(); return {x: b.x, y: b.y, w: b.width, h: b.height,
                                                      what: e.getAttribute('class') + ' ' + (e.dataset.group || '')}; };
  const labels = [...document.querySelectorAll('.value-label')].map(box);
  const bars = [...document.querySelectorAll('rect.bar, rect.compare-bar, rect.rest-bar')].map(box);
  return labels.flatMap(l => bars.filter(b => l.x < b.x + b.w - 0.1 && b.x < l.x + l.w - 0.1 &&
                                              l.y < b.y + b.h - 0.1 && b.y < l.y + l.h - 0.1)
                                 .map(b => l.what + ' on ' + b.what));
})()"""


def texts(page: Any, selector: str) -> list[str]:
    return page.view(TEXTS.format(selector=selector))


def status(page: Any) -> str:
    return page.view("document.getElementById('status').textContent")


def path_runs(d: str) -> list[list[tuple[float, float]]]:
    """An SVG path of M/L commands as its runs of vertices (each M starts a run)."""
    runs: list[list[tuple[float, float]]] = []
    for part in d.replace("M", " M").split(" M"):
        if part.strip():
            runs.append([tuple(map(float, p.split(","))) for p in part.replace("L", " ").split()])
    return runs
