import emitter


def test_the_public_api_is_exactly_what_is_documented():
    assert sorted(emitter.__all__) == [
        "AlertLevel",
        "Artifact",
        "ArtifactHandle",
        "CONTRACT_VERSION",
        "Config",
        "ContractError",
        "DefinedMetric",
        "Image",
        "Kind",
        "Run",
        "RunStatus",
        "Summary",
        "SyncReport",
        "UnsupportedWarning",
        "WandbRun",
        "alert",
        "current_run",
        "define_metric",
        "finish",
        "flush",
        "generate_name",
        "init",
        "log",
        "log_artifact",
        "log_image",
        "log_params",
        "new_run_id",
        "note",
        "save",
        "set_tags",
        "sync_artifacts",
        "sync_spool",
        "use_artifact",
    ]
    for name in emitter.__all__:
        assert hasattr(emitter, name), name


def test_the_current_run_its_config_and_summary_are_module_attributes_read_at_each_access():
    """W&B's ``wandb.run`` / ``wandb.config`` / ``wandb.summary``: not in ``__all__`` (a star-import would freeze them)."""
    assert emitter.run is emitter.current_run()
    assert {"run", "config", "summary"}.isdisjoint(emitter.__all__)


def test_the_emitter_depends_on_redis_and_msgpack_only():
    import tomllib
    from pathlib import Path

    project = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())["project"]
    assert sorted(dep.split(">")[0].split("=")[0] for dep in project["dependencies"]) == ["msgpack", "redis"]
