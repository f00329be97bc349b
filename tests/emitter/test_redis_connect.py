"""The emitter's Redis URLs and RUNWATCH_REDIS_* variables mean what the collector's settings mean."""

from __future__ import annotations

import pytest

from emitter._redis_connect import RedisOptions, client_kwargs, parse_redis_url


def test_the_environment_names_tls_files_credentials_and_cluster_mode():
    options = RedisOptions.from_env(
        {
            "RUNWATCH_REDIS_CLUSTER": "true",
            "RUNWATCH_REDIS_TLS_CA": "/ca.pem",
            "RUNWATCH_REDIS_TLS_CERT": "/c.pem",
            "RUNWATCH_REDIS_TLS_KEY": "/c.key",
            "RUNWATCH_REDIS_USERNAME": "runwatch-emitter",
            "RUNWATCH_REDIS_PASSWORD": "s3cret",
        }
    )
    target = parse_redis_url("rediss://redis.internal:6380/0", options)
    assert (target.cluster, target.tls, target.host, target.port, target.has_password) == (
        True,
        True,
        "redis.internal",
        6380,
        True,
    )
    kwargs = client_kwargs(target, options)
    assert (
        kwargs["ssl_ca_certs"] == "/ca.pem" and kwargs["ssl_certfile"] == "/c.pem" and kwargs["ssl_keyfile"] == "/c.key"
    )
    assert kwargs["ssl_cert_reqs"] == "required"  # the server's certificate is always verified
    assert (kwargs["username"], kwargs["password"]) == ("runwatch-emitter", "s3cret")


@pytest.mark.parametrize(
    ("url", "plain", "tls"),
    [
        ("redis+cluster://:pw@10.1.2.3:7000", "redis://:pw@10.1.2.3:7000", False),
        ("rediss+cluster://u:pw@node-1:7000/0", "rediss://u:pw@node-1:7000/0", True),
    ],
)
def test_a_cluster_url_is_a_cluster_over_the_scheme_redis_py_knows(url, plain, tls):
    target = parse_redis_url(url)
    assert (target.url, target.cluster, target.tls, target.has_password) == (plain, True, tls, True)


def test_plain_urls_are_single_servers_without_tls_settings():
    target = parse_redis_url("redis://127.0.0.1:6379/0", RedisOptions(tls_ca="/ca.pem"))
    assert not target.cluster and not target.tls and not target.has_password
    assert "ssl_ca_certs" not in client_kwargs(target, RedisOptions(tls_ca="/ca.pem"))


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://127.0.0.1:6379", "unsupported Redis URL scheme 'http'"),
        ("redis+cluster:///0", "a Redis Cluster URL names a node"),
        ("redis://127.0.0.1:99999/0", "invalid port"),
    ],
)
def test_a_url_nobody_can_use_is_a_clear_error(url, message):
    with pytest.raises(ValueError, match=message):
        parse_redis_url(url)
