"""The example of docs/mlflow.md runs as written against runwatch, and its run arrives."""

from __future__ import annotations

import math
import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "mlflow.md"


def test_the_documented_mlflow_script_logs_into_runwatch(mlflow_api, collector, store, tmp_path, monkeypatch):
    [example] = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.DOTALL)[:1]
    mlflow_api()
    monkeypatch.chdir(tmp_path)
    (tmp_path / "confusion.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 16)
    exec(compile(example, str(DOC), "exec"), {})
    [run] = store.runs.recent(project="resnet")
    assert (run.name, run.status, run.params["lr"]) == ("baseline", "finished", "0.01")
    loss = [p.value for p in store.series.points(run.id, ["loss"])]
    assert len(loss) == 101 and math.isnan(loss[-1])
    assert [v.name for v in store.artifacts.for_run(run.id)] == ["confusion.png"]
