"""Runs started by Airflow, Kubernetes/Kubeflow, Luigi or SLURM carry their identifiers as tags; SLURM preemption ends them killed.

The environments are the ones those systems give their tasks, set on a real training
process; the run goes through a real collector into the store.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from emitter._orchestrators import orchestrator_info, orchestrator_tags
from tests.helpers import ROOT, wait_for

AIRFLOW = {
    "AIRFLOW_CTX_DAG_ID": "nightly_train",
    "AIRFLOW_CTX_TASK_ID": "fit",
    "AIRFLOW_CTX_DAG_RUN_ID": "scheduled__2026-12-01T08:00:00+00:00",
    "AIRFLOW_CTX_TRY_NUMBER": "2",
}
SLURM = {
    "SLURM_JOB_ID": "4242",
    "SLURM_JOB_NAME": "resnet-sweep",
    "SLURM_ARRAY_JOB_ID": "4240",
    "SLURM_ARRAY_TASK_ID": "2",
    "SLURM_CLUSTER_NAME": "hpc",
}
KUBEFLOW = {
    "KUBERNETES_SERVICE_HOST": "10.0.0.1",
    "HOSTNAME": "trainer-7f9c-0",
    "KFP_RUN_ID": "3f2a-run",
    "ARGO_WORKFLOW_NAME": "pipeline-x8k2",
}


def test_airflow_task_context_becomes_tags() -> None:
    info = orchestrator_info(AIRFLOW)
    assert info == {
        "airflow": {"dag": "nightly_train", "task": "fit", "run": AIRFLOW["AIRFLOW_CTX_DAG_RUN_ID"], "try": "2"}
    }
    assert orchestrator_tags(info) == [
        "airflow",
        "airflow:dag:nightly_train",
        "airflow:task:fit",
        "airflow:run:scheduled__2026-12-01T08:00:00+00:00",
        "airflow:try:2",
    ]


def test_a_slurm_array_task_becomes_tags() -> None:
    assert orchestrator_tags(orchestrator_info(SLURM)) == [
        "slurm",
        "slurm:job:4242",
        "slurm:name:resnet-sweep",
        "slurm:array-job:4240",
        "slurm:array-task:2",
        "slurm:cluster:hpc",
    ]


def test_a_kubernetes_pod_names_itself_and_its_namespace(tmp_path: Path) -> None:
    namespace = tmp_path / "namespace"
    namespace.write_text("ml-team\n")
    info = orchestrator_info(KUBEFLOW, namespace_file=namespace)
    assert info["k8s"] == {"pod": "trainer-7f9c-0", "namespace": "ml-team"}  # the service account's file
    assert info["kubeflow"] == {"run": "3f2a-run", "workflow": "pipeline-x8k2"}
    explicit = orchestrator_info({**KUBEFLOW, "POD_NAME": "p", "POD_NAMESPACE": "ns"}, namespace_file=namespace)
    assert explicit["k8s"] == {"pod": "p", "namespace": "ns"}  # the downward API's variables win


def test_hostname_alone_is_no_kubernetes_pod(tmp_path: Path) -> None:
    assert orchestrator_info({"HOSTNAME": "laptop"}, namespace_file=tmp_path / "none") == {}


def test_control_characters_in_an_identifier_cannot_reach_a_tag() -> None:
    [_, tag] = orchestrator_tags({"slurm": {"name": "evil\x1b[2J" + "x" * 400}})
    assert "\x1b" not in tag and len(tag) == 250


def child_env(base: dict[str, str], extra: dict[str, str]) -> dict[str, str]:
    clean = {k: v for k, v in base.items() if not k.startswith(("SLURM_", "AIRFLOW_CTX_", "KFP_", "KUBERNETES_"))}
    return {**clean, **extra}


TRAIN = """
import emitter, time, sys
run = emitter.init('orchestrated', config={'lr': 0.1})
print('started', run.id, flush=True)
for step in range(1_000_000):
    run.log({'loss': 1.0 / (step + 1)}, step=step)
    time.sleep(0.002)
"""


def test_a_preempted_slurm_job_ends_killed_with_its_tags(emitter_env, collector, store) -> None:
    """SLURM preempts with SIGTERM, then SIGKILL after its grace period (KillWait)."""
    env = child_env(emitter_env, {**SLURM, **AIRFLOW})
    job = subprocess.Popen([sys.executable, "-c", TRAIN], env=env, cwd=str(ROOT), stdout=subprocess.PIPE, text=True)
    try:
        assert job.stdout is not None
        run_id = job.stdout.readline().split()[1]
        wait_for(lambda: store.series.count_points(run_id) > 0, what="points logged")
        job.send_signal(signal.SIGTERM)
        try:
            job.wait(10)  # the grace period: the handler drains and the job dies by the signal
        except subprocess.TimeoutExpired:
            job.kill()  # SLURM's SIGKILL
            job.wait()
        assert job.returncode == -signal.SIGTERM  # it ended within the grace period, by the signal
    finally:
        if job.poll() is None:
            job.kill()
            job.wait()
    run = wait_for(lambda: (r := store.runs.get(run_id)) and r.status != "running" and r, what="run ended")
    assert run.status == "killed"
    assert run.exit_info["exit_code"] == 128 + signal.SIGTERM
    assert {"slurm", "slurm:job:4242", "slurm:array-task:2", "airflow:dag:nightly_train"} <= set(run.tags)
    assert run.env["orchestrator"]["slurm"]["job"] == "4242"
    assert store.series.count_points(run_id) == run.last_step + 1  # nothing logged before the signal was lost


PREVIOUS_HANDLER = """
import emitter, os, signal, sys, time
def checkpoint_and_leave(signum, frame):
    print('checkpointed', flush=True)
    sys.exit(0)
signal.signal(signal.SIGTERM, checkpoint_and_leave)   # the training job's own handler, installed first
run = emitter.init('own-handler')
print('started', run.id, flush=True)
for step in range(1_000_000):
    run.log({'loss': 1.0}, step=step)
    time.sleep(0.002)
"""


def test_the_training_jobs_own_sigterm_handler_still_runs(emitter_env, collector, store) -> None:
    job = subprocess.Popen(
        [sys.executable, "-c", PREVIOUS_HANDLER],
        env=child_env(emitter_env, SLURM),
        cwd=str(ROOT),
        stdout=subprocess.PIPE,
        text=True,
    )
    assert job.stdout is not None
    run_id = job.stdout.readline().split()[1]
    wait_for(lambda: store.series.count_points(run_id) > 0, what="points logged")
    job.send_signal(signal.SIGTERM)
    out, _ = job.communicate(timeout=30)
    assert "checkpointed" in out and job.returncode == 0  # its handler ran, and its exit is its own
    run = wait_for(lambda: (r := store.runs.get(run_id)) and r.status != "running" and r, what="run ended")
    assert run.status == "killed"


DVC_RUN = """
import emitter
run = emitter.init('with-data', data='weights.bin')
run.use_dataset('s3://bucket/imagenet/', version='2026-11')
run.finish()
"""


@pytest.mark.parametrize("tools_on_path", [True, False])
def test_a_run_in_a_dvc_repository_records_its_data_versions(
    emitter_env, collector, store, tmp_path: Path, tools_on_path: bool
) -> None:
    from tests.emitter.test_provenance import POINTER, make_repo

    repo = make_repo(tmp_path / "repo")
    (repo / "weights.bin").write_text(POINTER)
    env = child_env(emitter_env, {})
    if not tools_on_path:
        env["PATH"] = str(tmp_path / "empty-bin")  # no git, no dvc: the files are parsed, nothing run
    done = subprocess.run(
        [sys.executable, "-c", DVC_RUN], env=env, cwd=str(repo), capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    run = wait_for(
        lambda: next((r for r in store.runs.recent(project="with-data") if r.status == "finished"), None),
        what="run ended",
    )
    data = run.params["runwatch/data"]
    assert data["dvc"]["files"]["data/data.xml"] == "a304afb96060aad90176268345e10355"
    assert data["dvc"]["remote"] == "s3://bucket/dvc-store"
    assert data["lfs"]["weights.bin"]["oid"].startswith("sha256:4d7a2146")
    assert run.params["dataset/imagenet"] == {"uri": "s3://bucket/imagenet/", "version": "2026-11"}


def test_init_in_a_tree_with_a_malformed_dvc_file_still_starts(emitter_env, collector, store, tmp_path: Path) -> None:
    from tests.emitter.test_provenance import make_repo

    repo = make_repo(tmp_path / "repo")
    (repo / "data" / "broken.dvc").write_bytes(b"\x00\x01binary")
    code = "import emitter\nrun = emitter.init('bad-dvc')\nrun.log({'x': 1.0})\nrun.finish()\n"
    done = subprocess.run(
        [sys.executable, "-c", code], env=child_env(emitter_env, {}), cwd=str(repo), capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert "data/broken.dvc: cannot read it" in done.stderr  # said once
    run = wait_for(lambda: next(iter(store.runs.recent(project="bad-dvc")), None), what="run stored")
    wait_for(lambda: "runwatch/data" in (store.runs.get(run.id).params or {}), what="data versions stored")
    data = store.runs.get(run.id).params["runwatch/data"]
    assert data["warnings"][0].startswith("data/broken.dvc: cannot read it")
    assert "data/data.xml" in data["dvc"]["files"]


LUIGI = """
import luigi, emitter

class TrainModel(luigi.Task):
    lr = luigi.FloatParameter()

    def run(self):
        run = emitter.init('luigi-job', config={'lr': self.lr})
        run.log({'loss': 0.5})
        run.finish()

    def complete(self):
        return False

assert luigi.build([TrainModel(lr=0.01)], local_scheduler=True, workers=1, log_level='ERROR')
"""


def test_a_run_started_inside_a_luigi_task_names_the_task(emitter_env, collector, store) -> None:
    done = subprocess.run(
        [sys.executable, "-c", LUIGI], env=child_env(emitter_env, {}), cwd=str(ROOT), capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    run = wait_for(
        lambda: next((r for r in store.runs.recent(project="luigi-job") if r.status == "finished"), None),
        what="run ended",
    )
    assert "luigi" in run.tags and "luigi:family:TrainModel" in run.tags
    [task] = [t for t in run.tags if t.startswith("luigi:task:")]
    assert task.startswith("luigi:task:TrainModel_0_01_")  # Luigi's task id: family, params, hash
