"""``import emitter as wandb``: a W&B script runs with only its import changed, and W&B's semantics hold."""

from __future__ import annotations

import argparse
import json
import math
import re
import warnings
from datetime import timedelta

import msgpack
import pytest

import emitter
from emitter import UnsupportedWarning
from emitter._spool import Spool
from tests.helpers import ROOT, run_python, wait_for

# A typical W&B training script; only its first line differs from the one W&B users run.
WANDB_SCRIPT = r"""
import emitter as wandb
import json, math, random

config = {"lr": 1e-3, "epochs": 3, "batch_size": 32, "model": {"depth": 2, "width": 16}}
run = wandb.init(project="wandb-shim", name="mnist-baseline", config=config, tags=["baseline", "cpu"],
                 group="lr-sweep", notes="the first try", entity="my-team", job_type="train")
wandb.config.update({"lr": 3e-4}, allow_val_change=True)
wandb.config.optimizer = "adam"
wandb.define_metric("val/acc", summary="max")
wandb.watch(None, log="all")                       # W&B only: said once, does nothing

best = 0.0
for epoch in range(wandb.config.epochs):
    for batch in range(4):
        loss = 1.0 / (epoch * 4 + batch + 1)
        wandb.log({"train": {"loss": loss, "lr": wandb.config["lr"]}, "epoch": epoch})
    acc = 0.6 + 0.1 * epoch
    wandb.log({"val": {"acc": acc, "loss": math.nan if epoch == 1 else 1 - acc}}, commit=False)
    wandb.log({"epoch_done": epoch})               # joins the same step (commit=False before)
    best = max(best, acc)
    wandb.alert(title="epoch done", text=f"epoch {epoch}", level=wandb.AlertLevel.INFO, wait_duration=300)

wandb.run.summary["best_acc"] = best
wandb.summary.update({"final_loss": loss})
print(json.dumps({"id": wandb.run.id, "step": wandb.run.step, "summary_loss": wandb.summary["train/loss"]}))
wandb.finish()
"""


def test_a_typical_wandb_script_runs_unchanged_and_its_data_reads_back_from_the_store(emitter_env, collector, store):
    done = run_python(WANDB_SCRIPT, emitter_env)
    assert done.returncode == 0, done.stderr[-3000:]
    said = json.loads(done.stdout.strip().splitlines()[-1])
    for warning in ("init(entity=...)", "init(job_type=...)", "wandb.watch has no runwatch equivalent"):
        assert done.stderr.count(warning) == 1, done.stderr  # said once each
    assert "Traceback" not in done.stderr

    run = wait_for(lambda: (r := store.runs.get(said["id"])) and r.status == "finished" and r, what="the run finished")
    assert (run.project, run.name, run.group, run.notes) == (
        "wandb-shim",
        "mnist-baseline",
        "lr-sweep",
        "the first try",
    )
    assert {"baseline", "cpu"} <= set(run.tags)
    params = run.params
    assert (params["lr"], params["epochs"], params["batch_size"], params["optimizer"]) == (3e-4, 3, 32, "adam")
    assert params["model"] == {"depth": 2, "width": 16}
    assert (params["summary/best_acc"], params["summary/final_loss"]) == (0.8, 1 / 12)
    assert params["define_metric/val/acc"] == {"summary": "max"}

    def points(key):
        return [(p.step, p.value) for p in store.series.points(run.id, [key])]

    wait_for(lambda: len(points("epoch_done")) == 3, what="every point")
    assert points("train/loss") == [(step, 1.0 / (step + 1)) for step in range(4)] + [
        (step + 1, 1.0 / (step + 1)) for step in range(4, 8)
    ] + [(step + 2, 1.0 / (step + 1)) for step in range(8, 12)]
    assert points("val/acc") == [(4, 0.6), (9, 0.7), (14, pytest.approx(0.8))]
    assert points("epoch_done") == [(4, 0.0), (9, 1.0), (14, 2.0)]  # the same step as val/* (commit=False)
    assert math.isnan(points("val/loss")[1][1])
    assert said == {"id": run.id, "step": 15, "summary_loss": 1 / 12}

    alerts = store.alerts.user_alerts(run_id=run.id)
    assert [(a.title, a.text, a.level) for a in alerts] == [("epoch done", "epoch 0", "info")]  # 3 raised in 300 s


def _last_events(run, count):
    return [(kind, payload) for _seq, _ts, kind, payload in list(run._sender._queue)[-count:]]


def test_config_takes_attribute_and_item_access_and_update_sends_only_changes(offline_run):
    run = emitter.init("unit", config=argparse.Namespace(lr=0.1, layers=3), redis_url=offline_run.redis_url)
    try:
        assert emitter.config is run.config and (run.config.lr, run.config["layers"]) == (0.1, 3)
        run.config.batch_size = 64
        run.config["dropout"] = 0.5
        run.config.update({"lr": 0.1, "layers": 4}, allow_val_change=True)  # lr unchanged: not sent
        run.config.setdefaults({"layers": 9, "seed": 1})
        assert _last_events(run, 4) == [
            ("params", {"params": {"batch_size": 64}}),
            ("params", {"params": {"dropout": 0.5}}),
            ("params", {"params": {"layers": 4}}),
            ("params", {"params": {"seed": 1}}),
        ]
        assert run.config.as_dict() == {"lr": 0.1, "layers": 4, "batch_size": 64, "dropout": 0.5, "seed": 1}
        assert "seed" in run.config and run.config.get("missing", "d") == "d" and sorted(run.config)[0] == "batch_size"
        with pytest.raises(AttributeError, match="no key 'missing'"):
            run.config.missing  # noqa: B018
        with pytest.warns(UnsupportedWarning, match="changed from 0.1 to 0.2 without allow_val_change") as said:
            run.config.lr = 0.2
            run.config.lr = 0.3  # said once per key
        assert len(said) == 1 and run.config.lr == 0.3  # recorded, never raised
        assert _last_events(run, 1) == [("params", {"params": {"lr": 0.3}})]
    finally:
        run.finish()


def test_summary_is_the_last_value_logged_unless_set_and_what_is_set_is_sent(offline_run):
    offline_run.log({"loss": 0.5, "val": {"acc": 0.7}})
    offline_run.log({"loss": 0.25})
    summary = emitter.summary
    assert (summary["loss"], summary["val/acc"], summary.loss) == (0.25, 0.7, 0.25)
    summary["loss"] = 0.1
    summary.update({"best": {"epoch": 3}})
    assert summary["loss"] == 0.1 and sorted(summary.keys()) == ["best", "loss", "val/acc"]
    assert _last_events(offline_run, 2) == [
        ("params", {"params": {"summary/loss": 0.1}}),
        ("params", {"params": {"summary/best": {"epoch": 3}}}),
    ]


def test_nested_dicts_flatten_with_slashes_and_commit_false_keeps_the_step(offline_run):
    offline_run.log({"train": {"loss": 1.0, "grad": {"norm": 2}}, "lr": 0.1})
    offline_run.log({"val": {"acc": 0.5}}, commit=False)
    offline_run.log({"val": {"loss": 0.4}})
    offline_run.log({"x": 1.0}, step=10)
    offline_run.log({"y": 2.0})
    metrics = [payload for kind, payload in _last_events(offline_run, 5)]
    assert metrics == [
        {"step": 0, "values": {"lr": 0.1, "train/loss": 1.0, "train/grad/norm": 2.0}},
        {"step": 1, "values": {"val/acc": 0.5}},
        {"step": 1, "values": {"val/loss": 0.4}},
        {"step": 10, "values": {"x": 1.0}},
        {"step": 11, "values": {"y": 2.0}},  # runwatch's rule: an explicit step moves the next one past it
    ]
    assert offline_run.step == 12


def test_an_alert_title_is_sent_once_within_wait_duration_and_levels_read_as_wandb_writes_them(offline_run):
    emitter.alert("slow", "first", level=emitter.AlertLevel.WARN, wait_duration=timedelta(minutes=1))
    emitter.alert("slow", "second", level="WARN", wait_duration=60)
    emitter.alert("other", "third", level="ERROR")
    emitter.alert("again", "a", wait_duration=0)
    emitter.alert("again", "b", wait_duration=0)  # no wait: sent again
    alerts = [payload for kind, payload in _last_events(offline_run, 4)]
    assert [(a["title"], a["text"], a["level"]) for a in alerts] == [
        ("slow", "first", "warn"),
        ("other", "third", "error"),
        ("again", "a", "warn"),
        ("again", "b", "warn"),
    ]
    with pytest.raises(TypeError, match="wait_duration takes seconds or a timedelta"):
        emitter.alert("x", wait_duration="soon")  # type: ignore[arg-type]


def _spooled_statuses(run):
    statuses = []
    for segment in Spool(run.home / "spool").segments():
        _run_id, body = segment.read()
        _writer, events = msgpack.unpackb(body, raw=False)
        statuses += [payload for _seq, _ts, kind, payload in events if kind == "status"]
    return statuses


def test_finish_with_an_exit_code_fails_the_run_as_wandb_does(offline_run):
    emitter.finish(exit_code=3)  # Redis is away: what finish() sent is in the spool
    assert offline_run.finished and _spooled_statuses(offline_run)[-1] == {"status": "failed", "exit_code": 3}
    assert emitter.run is None
    emitter.finish()  # no current run: nothing to do, as in W&B


def test_what_runwatch_lacks_is_said_once_and_never_raises(offline_run):
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        for _ in range(3):
            emitter.watch(object(), log="all")
            table = emitter.Table(columns=["a"], data=[[1]])
            table.add_data(2)
            emitter.log({"table": table, "loss": 1.0, "plot": emitter.plot.line(table, "a", "b")})
            emitter.log({"loss": 0.5}, sync=True)
            offline_run.save("nothing-matches-*.bin", policy="end")
    said = [str(w.message) for w in record if issubclass(w.category, UnsupportedWarning)]
    assert sorted(said) == sorted(
        [
            "runwatch: wandb.watch has no runwatch equivalent; it does nothing here",
            "runwatch: wandb.Table has no runwatch equivalent; it does nothing here",
            "runwatch: wandb.plot has no runwatch equivalent; it does nothing here",
            "runwatch: log(sync=...) is ignored: runwatch always sends in the background",
            "runwatch: save(policy='end'): the files are stored as they are now, not again later",
        ]
    )
    assert {payload["values"]["loss"] for kind, payload in _last_events(offline_run, 6) if kind == "metrics"} == {
        1.0,
        0.5,
    }
    with pytest.raises(AttributeError, match="no attribute 'not_a_wandb_name'"):
        emitter.not_a_wandb_name  # noqa: B018 - a typo is still an error


def test_wandb_only_init_keywords_are_said_once_and_unknown_ones_are_errors(offline_run, tmp_path):
    with warnings.catch_warnings(record=True) as said:  # not pytest.warns: it re-emits any other warning
        warnings.simplefilter("always")
        run = emitter.init(
            "unit",
            redis_url=offline_run.redis_url,
            home=tmp_path,
            entity="team",
            mode="offline",
            resume="must",
            id="r-1",
        )
    run.finish()
    assert run.id == "r-1" and run.resumed
    assert sorted(str(w.message) for w in said if w.category is UnsupportedWarning) == [
        "runwatch: init(entity=...) has no runwatch equivalent and is ignored",
        "runwatch: init(mode=...) has no runwatch equivalent and is ignored",
        "runwatch: init(resume='must') is not checked: an id resumes its run or starts it",
    ]
    with pytest.raises(TypeError, match="unexpected keyword argument 'projcet'"):
        emitter.init(projcet="typo", redis_url=offline_run.redis_url, home=tmp_path)


def test_before_init_the_module_run_is_none_and_config_says_what_to_do():
    assert emitter.run is None
    with pytest.raises(RuntimeError, match="call emitter.init"):
        emitter.config.lr  # noqa: B018


def test_the_example_in_docs_wandb_md_runs_as_written(emitter_env, collector, store):
    [example] = re.findall(r"```python\n(.*?)```", (ROOT / "docs" / "wandb.md").read_text(), flags=re.DOTALL)
    done = run_python(example, emitter_env)
    assert done.returncode == 0, done.stderr[-3000:]
    run_id, last_loss = done.stdout.split()
    run = wait_for(lambda: (r := store.runs.get(run_id)) and r.status == "finished" and r, what="the run finished")
    assert (run.project, run.params["lr"], run.params["summary/best_acc"]) == ("docs-wandb", 3e-4, 0.8)
    assert float(last_loss) == 1 / 30
    wait_for(lambda: len(list(store.series.points(run_id, ["train/loss"]))) == 30, what="every train/loss point")
    assert [a.title for a in store.alerts.user_alerts(run_id=run_id)] == ["good enough"]
