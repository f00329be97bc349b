"""Every Python example in docs/integrations.md runs as written and its runs arrive, ended."""

from __future__ import annotations

import re

import pytest

from tests.helpers import ROOT, run_python
from tests.integrations.stored import ended_runs

pytestmark = pytest.mark.integrations

DOC = ROOT / "docs" / "integrations.md"
EXAMPLES = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.DOTALL)
RUNS = {"docs-hf": 1, "docs-lightning": 1, "docs-keras": 1, "docs-optuna": 12, "docs-sklearn": 1}


def _project(example: str) -> str:
    [project] = set(re.findall(r'"(docs-[a-z]+)"', example))
    return project


def test_the_doc_has_an_example_for_every_integration():
    assert sorted(_project(example) for example in EXAMPLES) == sorted(RUNS)


@pytest.mark.timeout(300)
@pytest.mark.parametrize("example", EXAMPLES, ids=[_project(example) for example in EXAMPLES])
def test_the_example_runs_and_its_runs_end_in_the_store(example, emitter_env, collector, store, tmp_path):
    done = run_python(example.replace("/tmp/", f"{tmp_path}/"), emitter_env, timeout=280)
    assert done.returncode == 0, done.stderr[-3000:]
    project = _project(example)
    runs = ended_runs(store, project, RUNS[project])
    assert all(run.status in ("finished", "killed") for run in runs), [(run.name, run.status) for run in runs]
