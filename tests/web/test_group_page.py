"""The group page in real Chromium: an Optuna study's trials ranked, drawn in parallel coordinates and a scatter.

The study is written as ``emitter.integrations.optuna.RunwatchCallback`` records one (tests/web/study.py).
What the charts draw is read through their accessible structure: the axes and the lines of the parallel
coordinates and the points of the scatter are lists (role=list) with one listitem per axis or run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

from playwright.sync_api import expect

from tests.web.study import GroupedRun, Trial, ranking, seed_study

XSS = "<img src=x onerror=alert(1)>"


def _lines(page: Any) -> Any:
    return page.locator("#parallel").get_by_role("list", name="runs").get_by_role("listitem")


def _axes(page: Any) -> Any:
    return page.locator("#parallel").get_by_role("list", name="axes").get_by_role("listitem")


def _axis(page: Any, key: str) -> Any:
    return page.locator(f'#parallel .pc-axis[data-key="{key}"]')


def _points(page: Any) -> Any:
    return page.locator("#scatter").get_by_role("list", name="runs").get_by_role("listitem")


def _rows(page: Any) -> Any:
    return page.locator("#group-runs-body tr[data-run]")


def _best(trials: list[Trial]) -> Trial:
    return min((t for t in trials if t.value is not None), key=lambda t: t.value or 0.0)


def test_the_group_page_of_an_optuna_study_draws_parallel_coordinates_ranks_the_trials_and_marks_the_best(
    dashboard: Any, store: Any, page: Any, tmp_path: Path
) -> None:
    trials = seed_study(store, "resnet-lr", trials=24)
    best = _best(trials)
    page.goto(f"{dashboard.url}/#/group/resnet-lr?project=optuna")

    # parallel coordinates: an axis per searched param (Optuna's optuna.* facts are not axes), the objective last
    expect(_axes(page)).to_have_count(5)
    assert [a.get_attribute("data-key") for a in _axes(page).all()] == [
        "layers",
        "lr",
        "momentum",
        "optimizer",
        "value",
    ]
    expect(_axis(page, "lr")).to_have_attribute("data-log", "true")  # 1e-5..1e-1: decades
    expect(_axis(page, "optimizer")).to_have_attribute("data-kind", "categorical")
    expect(_axis(page, "value")).to_have_attribute("data-kind", "numeric")
    # the conditional param: the runs without momentum pass through the axis's "missing" slot
    expect(_axis(page, "momentum").locator(".pc-tick.missing")).to_have_text("missing")
    expect(_lines(page)).to_have_count(len(trials))  # one line per trial, pruned and failed ones included
    assert sorted(line.get_attribute("data-run") for line in _lines(page).all()) == sorted(t.run_id for t in trials)
    without_momentum = [t for t in trials if "momentum" not in t.params]
    assert sum("momentum –" in (line.get_attribute("aria-label") or "") for line in _lines(page).all()) == len(
        without_momentum
    )
    expect(page.locator("#parallel")).to_have_attribute("data-best", best.run_id)
    expect(page.locator("#parallel .pc-line.best")).to_have_attribute("data-run", best.run_id)
    expect(page.locator("#parallel .pc-best-mark")).to_have_text("★ best")

    # the table: ranked by the objective Optuna minimised (value, from optuna.direction), the best run first and marked
    expect(page.locator("#objective")).to_have_value("value")
    expect(page.locator("#direction")).to_have_attribute("data-direction", "min")
    expect(_rows(page)).to_have_count(len(trials))
    assert [r.get_attribute("data-run") for r in _rows(page).all()] == ranking(trials)
    first = _rows(page).first
    expect(first).to_have_class("best")
    expect(first.locator(".best-mark")).to_have_text("★ best")
    expect(page.locator("#group-runs-body tr.best")).to_have_count(1)
    expect(page.locator("#group-best a")).to_have_text(best.name)
    unvalued = [t for t in trials if t.value is None]
    expect(page.locator('#group-runs-body tr[data-rank=""]')).to_have_count(
        len(unvalued)
    )  # pruned, failed: unranked, last

    # the scatter: one point per run that has both the param and the metric
    expect(page.locator("#scatter-x")).to_have_value("layers")
    expect(page.locator("#scatter-y")).to_have_value("value")
    expect(_points(page)).to_have_count(len(trials) - len(unvalued))
    expect(page.locator("#scatter")).to_have_attribute("data-left-out", str(len(unvalued)))
    page.select_option("#scatter-x", "momentum")
    page.select_option("#scatter-y", "intermediate_value")
    both = [t for t in trials if "momentum" in t.params and t.steps]
    expect(_points(page)).to_have_count(len(both))
    assert sorted(p.get_attribute("data-run") for p in _points(page).all()) == sorted(t.run_id for t in both)
    page.select_option("#scatter-x", "optimizer")  # a categorical x
    page.select_option("#scatter-y", "value")
    expect(_points(page)).to_have_count(len(trials) - len(unvalued))
    expect(page.locator("#scatter .sc-tick")).to_contain_text(["adam", "rmsprop", "sgd"])
    page.select_option("#scatter-x", "lr")
    expect(_points(page)).to_have_count(len(trials) - len(unvalued))
    expect(page.locator("#scatter .sc-point.best")).to_have_attribute("data-run", best.run_id)

    # hovering a run's row highlights its line and its point
    other = ranking(trials)[3]
    _rows(page).nth(3).hover()
    expect(page.locator(f'#parallel .pc-line[data-run="{other}"]')).to_have_class("pc-line hover")
    expect(page.locator(f'#scatter .sc-point[data-run="{other}"]')).to_have_class("sc-point hover")
    page.screenshot(path=str(tmp_path / "group.png"), full_page=True)
    assert page.problems == []


def test_min_max_flips_the_ranking_and_the_choice_lives_in_the_url(dashboard: Any, store: Any, page: Any) -> None:
    trials = seed_study(store, "flip", trials=12)
    page.goto(f"{dashboard.url}/#/group/flip?project=optuna")
    expect(_rows(page)).to_have_count(12)
    page.click("#direction")
    expect(page.locator("#direction")).to_have_attribute("data-direction", "max")
    worst = max((t for t in trials if t.value is not None), key=lambda t: t.value or 0.0)
    expect(_rows(page).first).to_have_attribute("data-run", worst.run_id)
    expect(_rows(page).first).to_have_class("best")
    expect(page.locator("#parallel")).to_have_attribute("data-best", worst.run_id)
    assert "direction=max" in page.url
    page.reload()
    expect(page.locator("#direction")).to_have_attribute("data-direction", "max")
    expect(_rows(page).first).to_have_attribute("data-run", worst.run_id)
    page.select_option("#objective", "intermediate_value")  # another objective: its own default direction (Optuna's)
    expect(page.locator("#direction")).to_have_attribute("data-direction", "min")
    expect(page.locator("#parallel .pc-axis").last).to_have_attribute("data-key", "intermediate_value")
    assert page.problems == []


def test_a_line_and_a_point_open_their_run_and_the_runs_table_and_run_page_link_to_the_group(
    dashboard: Any, store: Any, page: Any
) -> None:
    trials = seed_study(store, "linked", trials=8)
    best = _best(trials)
    page.goto(f"{dashboard.url}/#/")
    page.locator(f'tr[data-run="{best.run_id}"] td.group a').click()
    expect(page.locator("#group-name")).to_contain_text("linked")
    assert page.url.endswith("#/group/linked?project=optuna")
    expect(_lines(page)).to_have_count(8)

    # a click on the best line, halfway between two axes, opens its run
    box = page.locator("#parallel svg").bounding_box()
    at = page.locator("#parallel .pc-line.best").evaluate(
        "(path) => { const p = path.getPointAtLength(path.getTotalLength() * 0.3); return { x: p.x, y: p.y }; }"
    )
    page.mouse.move(box["x"] + at["x"], box["y"] + at["y"])
    expect(page.locator("#parallel .chart-info")).to_contain_text(best.name)
    page.mouse.click(box["x"] + at["x"], box["y"] + at["y"])
    expect(page.locator("#run-name")).to_have_text(best.name)

    # the run page links back to its group; a point of the scatter opens its run too
    page.locator("a.group-link").click()
    expect(_points(page)).to_have_count(sum(t.value is not None for t in trials))
    page.locator(f'#scatter .sc-point[data-run="{trials[0].run_id}"]').click()
    expect(page.locator("#run-name")).to_have_text(trials[0].name)
    assert page.problems == []


def test_a_large_group_is_read_through_its_cursors_and_runs_cut_short_by_a_page_are_read_whole(
    dashboard: Any, store: Any, page: Any
) -> None:
    """520 runs (two pages of the API), half without a param; three log 40 more metrics, so a page of runs
    (32 metrics each, by name) leaves out their loss: one of them has the lowest loss and must still win."""
    wide = {f"aux/m{k:02d}": float(k) for k in range(40)}
    ids = []
    for i in range(520):
        config: dict[str, Any] = {"lr": 0.001 * (1 + i % 50), "batch": 64}
        if i % 2:
            config["warmup"] = i % 7
        run = GroupedRun(store, "cifar", group="sweep-big", name=f"sweep-{i:03d}", config=config)
        loss = 0.01 if i == 517 else 1.0 + (i % 97) / 100
        values = {"loss": loss, **(wide if i in (3, 250, 517) else {})}
        run.write([("metrics", {"step": 10, "values": values}, None), ("status", {"status": "finished"}, None)])
        ids.append(run.id)
    page.goto(f"{dashboard.url}/#/group/sweep-big?project=cifar")
    expect(_rows(page)).to_have_count(520)
    expect(_lines(page)).to_have_count(520)
    expect(page.locator("#objective")).to_have_value("loss")  # the metric every run has (training before aux/…)
    expect(_rows(page).first).to_have_attribute("data-run", ids[517])
    expect(_rows(page).first.locator("td.objective")).to_have_text("0.01")
    assert [a.get_attribute("data-key") for a in _axes(page).all()] == [
        "lr",
        "warmup",
        "loss",
    ]  # batch is the same in every run
    expect(page.locator("#group-fixed")).to_contain_text("batch = 64")
    assert sum("warmup –" in (line.get_attribute("aria-label") or "") for line in _lines(page).all()) == 260
    assert page.problems == []


def test_a_group_named_with_quotes_and_html_is_found_and_shown_as_text_across_projects(
    dashboard: Any, store: Any, page: Any
) -> None:
    name = f'it\'s a "study" \\ {XSS}'
    runs = [
        GroupedRun(store, project, group=name, name=f"{project}-{i}", config={"x": i})
        for i, project in enumerate(["a", "b", "a"])
    ]
    for i, run in enumerate(runs):
        run.log({"score": float(i)}, step=1)
    GroupedRun(store, "a", group="another", name="elsewhere", config={"x": 9}).log({"score": 99.0}, step=1)
    page.goto(f"{dashboard.url}/#/group/{quote(name, safe='')}")  # no project: the group across projects
    expect(page.locator("#group-name")).to_contain_text(name)
    expect(_rows(page)).to_have_count(3)
    expect(page.locator("#direction")).to_have_attribute("data-direction", "max")  # "score": higher is better
    expect(_rows(page).first).to_have_attribute("data-run", runs[2].id)
    expect(page.locator("#group-runs th", has_text="project")).to_have_count(1)  # two projects: say which
    assert page.query_selector_all("main img") == []
    page.goto(f"{dashboard.url}/#/group/{quote(name, safe='')}?project=b")
    expect(_rows(page)).to_have_count(1)
    assert page.dialogs == []
    assert page.problems == []


def test_an_unknown_group_says_so(dashboard: Any, page: Any) -> None:
    page.goto(f"{dashboard.url}/#/group/nothing-here?project=optuna")
    expect(page.locator("#group-progress")).to_contain_text('No runs have group "nothing-here" in project "optuna"')
    assert page.problems == []
