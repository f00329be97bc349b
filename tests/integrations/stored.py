"""Reading back what an integration sent: runs once ended, series as (step, value), alerts of a run."""

from __future__ import annotations

from typing import Any

from tests.helpers import wait_for


def ended_runs(store: Any, project: str, count: int = 1, *, timeout: float = 60.0) -> list[Any]:
    """The ``count`` runs of ``project``, oldest first, once none of them is still running."""

    def ready() -> list[Any] | None:
        runs = store.runs.recent(project=project)
        if len(runs) == count and all(run.status != "running" for run in runs):
            return sorted(runs, key=lambda run: run.created_at)
        return None

    found: list[Any] = wait_for(ready, timeout=timeout, what=f"{count} ended run(s) of project {project!r}")
    return found


def series(store: Any, run_id: str, key: str) -> list[tuple[int, float]]:
    return sorted((point.step, point.value) for point in store.series.points(run_id, [key]))


def notes(store: Any, run_id: str) -> list[str]:
    return [text for _, text in store.runs.notes(run_id)]


def fired(service: Any, run_id: str, *, timeout: float = 60.0) -> list[Any]:
    """The alert transitions of ``run_id`` that fired, once there is one."""

    def firing() -> list[Any]:
        return [record for record in service.store.alerts.history(run_id=run_id) if record.state == "firing"]

    records: list[Any] = wait_for(firing, timeout=timeout, what=f"an alert firing for run {run_id}")
    return records
