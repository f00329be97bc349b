import emitter


def test_the_public_api_is_exactly_what_is_documented():
    assert sorted(emitter.__all__) == [
        "ArtifactHandle",
        "CONTRACT_VERSION",
        "ContractError",
        "Kind",
        "Run",
        "RunStatus",
        "SyncReport",
        "alert",
        "current_run",
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
        "set_tags",
        "sync_artifacts",
        "sync_spool",
        "use_artifact",
    ]
    for name in emitter.__all__:
        assert hasattr(emitter, name), name


def test_the_emitter_depends_on_redis_and_msgpack_only():
    import tomllib
    from pathlib import Path

    project = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())["project"]
    assert sorted(dep.split(">")[0].split("=")[0] for dep in project["dependencies"]) == ["msgpack", "redis"]
