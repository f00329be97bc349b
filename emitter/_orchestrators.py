"""Where a run was started from: Airflow, Kubeflow/Kubernetes, Luigi or SLURM, as tags.

Each system says who it is through the environment it gives its tasks (Luigi, which runs
tasks in its worker's own process, through the task object on the call stack). The
identifiers become tags ``<system>:<field>:<value>`` — ``slurm:job:4242``,
``airflow:dag:nightly_train``, ``k8s:pod:trainer-7f9c`` — plus the bare system name
(``slurm``), so ``tags.slurm`` and ``tags.`airflow:dag:nightly_train``` find them. Only
environment variables and one small file are read: nothing is run, nothing can raise.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from types import FrameType
from typing import Any

from .events import MAX_KEY_LENGTH

__all__ = ["orchestrator_info", "orchestrator_tags"]

# (system, tag field, environment variables tried in order)
_FIELDS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("airflow", "dag", ("AIRFLOW_CTX_DAG_ID",)),
    ("airflow", "task", ("AIRFLOW_CTX_TASK_ID",)),
    ("airflow", "run", ("AIRFLOW_CTX_DAG_RUN_ID",)),
    ("airflow", "try", ("AIRFLOW_CTX_TRY_NUMBER",)),
    ("kubeflow", "run", ("KFP_RUN_ID", "KFP_RUN_NAME")),
    ("kubeflow", "pod", ("KFP_POD_NAME",)),
    ("kubeflow", "workflow", ("ARGO_WORKFLOW_NAME",)),
    ("slurm", "job", ("SLURM_JOB_ID", "SLURM_JOBID")),
    ("slurm", "name", ("SLURM_JOB_NAME",)),
    ("slurm", "array-job", ("SLURM_ARRAY_JOB_ID",)),
    ("slurm", "array-task", ("SLURM_ARRAY_TASK_ID",)),
    ("slurm", "cluster", ("SLURM_CLUSTER_NAME",)),
    ("slurm", "partition", ("SLURM_JOB_PARTITION",)),
)
_NAMESPACE_FILE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
_MAX_FRAMES = 200  # how far up the stack a Luigi task is looked for


def orchestrator_info(
    environ: Mapping[str, str], *, namespace_file: Path = _NAMESPACE_FILE
) -> dict[str, dict[str, str]]:
    """Per system, its identifiers of this process (``{}`` when started by hand)."""
    found: dict[str, dict[str, str]] = {}
    for system, field, names in _FIELDS:
        value = next((environ[n] for n in names if environ.get(n)), None)
        if value is not None:
            found.setdefault(system, {})[field] = value
    if environ.get("KUBERNETES_SERVICE_HOST"):
        pod = environ.get("POD_NAME") or environ.get("KFP_POD_NAME") or environ.get("HOSTNAME")
        namespace = environ.get("POD_NAMESPACE") or environ.get("KFP_NAMESPACE") or _read(namespace_file)
        k8s = {k: v for k, v in (("pod", pod), ("namespace", namespace)) if v}
        if k8s:
            found["k8s"] = k8s
    luigi = _luigi_task()
    if luigi:
        found["luigi"] = luigi
    return found


def orchestrator_tags(info: Mapping[str, Mapping[str, str]]) -> list[str]:
    """``slurm``, ``slurm:job:4242``, ...: the tags for ``orchestrator_info``'s answer."""
    tags: list[str] = []
    for system, fields in info.items():
        tags.append(system)
        for field, value in fields.items():
            tags.append(_tag(f"{system}:{field}:{value}"))
    return tags


def _tag(text: str) -> str:
    clean = "".join(c if c.isprintable() else "?" for c in text)
    return clean[:MAX_KEY_LENGTH]


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8").strip()[:200] or None
    except (OSError, UnicodeError):
        return None


def _luigi_task() -> dict[str, str]:
    """The Luigi task whose ``run()`` is on this thread's stack, when Luigi is imported at all."""
    luigi = sys.modules.get("luigi")
    task_class: Any = getattr(luigi, "Task", None)
    if not isinstance(task_class, type):
        return {}
    frame: FrameType | None = sys._getframe(1)
    for _ in range(_MAX_FRAMES):
        if frame is None:
            return {}
        candidate = frame.f_locals.get("self")
        if isinstance(candidate, task_class):
            out = {"task": str(getattr(candidate, "task_id", "") or type(candidate).__name__)}
            family = getattr(candidate, "task_family", None)
            if isinstance(family, str):
                out["family"] = family
            return out
        frame = frame.f_back
    return {}
