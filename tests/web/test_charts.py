"""The run page's charts in real Chromium: lazy with 1,000 keys, log scale, smoothing, time axis, visible labels and points.

What a chart draws is read the way a person sees it: canvases on the page, the tick labels it drew
(``data-y-ticks``), the uPlot legend under the cursor, and the pixels of its canvas.
"""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect

KEYS = 1000
INK = """(canvas) => {
  const { width, height } = canvas;
  const pixels = canvas.getContext("2d").getImageData(0, 0, width, height).data;
  let left = width, right = -1;
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) {
    if (pixels[(y * width + x) * 4 + 3] > 40) { if (x < left) left = x; if (x > right) right = x; }
  }
  return { left, right, width };
}"""
COLOURED = """(canvas) => {
  const hex = getComputedStyle(document.documentElement).getPropertyValue("--c0").trim();
  const want = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
  const { width, height } = canvas;
  const pixels = canvas.getContext("2d").getImageData(0, 0, width, height).data;
  let n = 0;
  for (let i = 0; i < pixels.length; i += 4) {
    if (pixels[i + 3] > 200 && want.every((c, k) => Math.abs(pixels[i + k] - c) < 40)) n += 1;
  }
  return n;
}"""


def _chart(page: Any, key: str) -> Any:
    return page.locator(f'.chart[data-key="{key}"]')


def _open(page: Any, url: str, key: str) -> Any:
    page.goto(url)
    chart = _chart(page, key)
    expect(chart).to_have_attribute("data-state", "drawn")
    return chart


def _legend(chart: Any, nth: int) -> str:
    return chart.locator(f".u-legend .u-series:nth-child({nth}) .u-value").text_content() or ""


def _hover_right_end(page: Any, chart: Any) -> None:
    box = chart.locator(".u-over").bounding_box()
    page.mouse.move(box["x"] + box["width"] - 2, box["y"] + box["height"] / 2)


def test_a_run_with_1000_metric_keys_opens_interactive_and_draws_only_the_charts_in_view(
    dashboard: Any, fake_run: Any, page: Any
) -> None:
    run = fake_run("wide", name="thousand-keys")
    run.log_many([(step, {f"m-{k:04d}": k + step for k in range(KEYS)}) for step in range(3)])
    first = _open(page, f"{dashboard.url}/#/run/{run.id}", "m-0000")
    expect(page.locator(".chart")).to_have_count(KEYS)  # a box per key, at once
    expect(first).to_have_attribute("data-points", "3")
    drawn = page.locator(".chart canvas").count()
    assert 0 < drawn <= 40, drawn  # only what is in (or near) view has a uPlot canvas
    assert _chart(page, "m-0999").locator("canvas").count() == 0
    page.fill("#metric-filter", "m-0999")  # the filter box answers at once
    expect(page.locator(".chart:visible")).to_have_count(1)
    expect(_chart(page, "m-0999")).to_have_attribute("data-state", "drawn")  # revealed, so it loads and draws
    expect(_chart(page, "m-0999")).to_have_attribute("data-points", "3")
    page.fill("#metric-filter", "")
    _chart(page, "m-0500").scroll_into_view_if_needed()
    expect(_chart(page, "m-0500")).to_have_attribute("data-state", "drawn")
    assert page.locator(".chart canvas").count() <= 3 * 40  # still nowhere near one per key
    assert page.problems == []


def test_the_log_toggle_puts_the_y_axis_on_a_log_scale(dashboard: Any, fake_run: Any, page: Any) -> None:
    run = fake_run("scales", name="decades")
    run.log_many([(step, {"loss": 0.0 if step == 0 else 10.0 ** (step - 1)}) for step in range(8)])  # 0, 1 .. 1e6
    chart = _open(page, f"{dashboard.url}/#/run/{run.id}", "loss")
    expect(chart).to_have_attribute("data-scale", "linear")
    linear = (chart.get_attribute("data-y-ticks") or "").split(" | ")
    assert "0" in linear and any(label.endswith("00,000") for label in linear), linear
    page.check("#chart-log")
    expect(chart).to_have_attribute("data-scale", "log")
    expect(chart.locator(".badge")).to_contain_text("1 ≤ 0 not on the log scale")
    logs = (chart.get_attribute("data-y-ticks") or "").split(" | ")
    decades = {f"{10**n:,}" for n in range(7)}
    assert len(logs) >= 3 and set(logs) <= decades, logs  # ticks a decade apart: 1, 10, 100, ...
    page.uncheck("#chart-log")
    expect(chart).to_have_attribute("data-scale", "linear")
    expect(chart.locator(".badge")).to_have_text("")
    assert page.problems == []


def test_smoothing_draws_an_ema_over_the_raw_line(dashboard: Any, fake_run: Any, page: Any) -> None:
    run = fake_run("smooth", name="zigzag")
    run.log_many([(step, {"loss": 10.0 * (step % 2)}) for step in range(200)])  # 0, 10, 0, 10, ... ends on 10
    chart = _open(page, f"{dashboard.url}/#/run/{run.id}", "loss")
    _hover_right_end(page, chart)
    expect(chart.locator(".u-legend .u-series:nth-child(2) .u-value")).to_have_text(
        re.compile(r"^(0|10)$")
    )  # the values
    page.locator("#chart-smoothing").fill("0.9")
    expect(chart).to_have_attribute("data-smoothing", "0.9")
    expect(page.locator("#chart-smoothing-value")).to_have_text("0.90")
    _hover_right_end(page, chart)
    expect(chart.locator(".u-legend .u-series:nth-child(3)")).to_be_visible()  # the raw line stays, in the legend too
    smoothed = float(_legend(chart, 2))
    assert 4.0 < smoothed < 6.0, smoothed  # the average of 0/10 alternating, not either value
    assert float(_legend(chart, 3)) in (0.0, 10.0)  # the raw value under the cursor
    page.locator("#chart-smoothing").fill("0")
    expect(chart.locator(".u-legend .u-series:nth-child(3)")).to_be_hidden()
    assert page.problems == []


def test_the_x_axis_can_be_wall_clock_time(dashboard: Any, fake_run: Any, page: Any) -> None:
    run = fake_run("clock", name="timed")
    start = 1_767_225_600.0  # 2026-01-01 00:00 UTC; one point a minute
    run.write(
        [("metrics", {"step": step, "values": {"loss": 1.0 / (step + 1)}}, start + 60 * step) for step in range(30)]
    )
    chart = _open(page, f"{dashboard.url}/#/run/{run.id}", "loss")
    _hover_right_end(page, chart)
    expect(chart.locator(".u-legend .u-series:nth-child(1) .u-value")).to_have_text("29")  # the last step
    page.select_option("#chart-x", "time")
    expect(chart).to_have_attribute("data-x", "time")
    expect(chart).to_have_attribute("data-state", "drawn")
    _hover_right_end(page, chart)
    label = chart.locator(".u-legend .u-series:nth-child(1) .u-value")
    expect(label).to_have_text(re.compile(r"\d{1,2}:\d{2}"))  # a time of day, not a step
    page.reload()  # the choice is remembered in this browser
    expect(chart).to_have_attribute("data-x", "time")
    page.select_option("#chart-x", "step")
    expect(chart).to_have_attribute("data-x", "step")
    assert page.problems == []


def test_a_series_of_a_single_point_draws_that_point(dashboard: Any, fake_run: Any, page: Any) -> None:
    run = fake_run("sparse", name="once")
    run.log({"final/acc": 0.93}, step=7)
    chart = _open(page, f"{dashboard.url}/#/run/{run.id}", "final/acc")
    expect(chart).to_have_attribute("data-points", "1")
    assert chart.locator("canvas").evaluate(COLOURED) >= 12  # a dot of the series colour, not an empty plot
    assert page.problems == []


def test_a_large_axis_label_is_drawn_whole_inside_the_chart(dashboard: Any, fake_run: Any, page: Any) -> None:
    run = fake_run("wide-values", name="big")
    run.log_many([(step, {"tokens": 100_000.0 * step}) for step in range(6)])  # 0 .. 500,000: labels "400,000"
    chart = _open(page, f"{dashboard.url}/#/run/{run.id}", "tokens")
    labels = (chart.get_attribute("data-y-ticks") or "").split(" | ")
    assert max(len(label) for label in labels) >= len("400,000"), labels
    ink = chart.locator("canvas").evaluate(INK)
    assert ink["left"] >= 2, ink  # the widest label ends inside the canvas: "500,000", not "00,000"
    assert ink["right"] <= ink["width"] - 2, ink
    assert page.problems == []
