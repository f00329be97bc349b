"""Redis as a team runs it, for tests: TLS with a CA made on the spot, ACL users, a 3-node Cluster.

Every server binds 127.0.0.1 only and is killed at the end of its test.
"""

from __future__ import annotations

import datetime
import ipaddress
import socket
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import redis
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.helpers import free_port, need_binary, redis_binary, skip_unless, wait_for


@dataclass(frozen=True)
class Certs:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> None:
    path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    path.chmod(0o600)


def make_certs(directory: Path) -> Certs:
    """A self-signed CA, a server certificate for 127.0.0.1 and a client certificate, all signed by it."""
    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("runwatch test CA"))
        .issuer_name(_name("runwatch test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True
        )  # digital_signature, key_cert_sign, crl_sign
        .sign(ca_key, hashes.SHA256())
    )

    def leaf(
        common_name: str, san: list[x509.GeneralName] | None
    ) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
        key = ec.generate_private_key(ec.SECP256R1())
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(common_name))
            .issuer_name(ca.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        )
        if san:
            builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
        return builder.sign(ca_key, hashes.SHA256()), key

    server, server_key = leaf("127.0.0.1", [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
    client, client_key = leaf("runwatch-client", None)
    certs = Certs(
        directory / "ca.pem",
        directory / "server.pem",
        directory / "server.key",
        directory / "client.pem",
        directory / "client.key",
    )
    certs.ca.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    certs.server_cert.write_bytes(server.public_bytes(serialization.Encoding.PEM))
    certs.client_cert.write_bytes(client.public_bytes(serialization.Encoding.PEM))
    _write_key(server_key, certs.server_key)
    _write_key(client_key, certs.client_key)
    return certs


class ServerExited(RuntimeError):
    """redis-server stopped right after starting; the message is its log."""


class ConfiguredRedis:
    """A redis-server started from a config file written by the test (TLS, ACL users, cluster mode)."""

    def __init__(
        self, directory: Path, lines: list[str], port: int, admin_url: str, admin_kwargs: dict[str, str]
    ) -> None:
        self.directory = directory
        self.port = port
        directory.mkdir(parents=True, exist_ok=True)
        config = directory / "redis.conf"
        base = ["bind 127.0.0.1", f"dir {directory}", 'save ""', "appendonly yes", "appendfsync everysec"]
        config.write_text("\n".join([*base, *lines]) + "\n")
        self.log = directory / "redis.log"
        with self.log.open("wb") as log:
            self.process = subprocess.Popen([redis_binary(), str(config)], stdout=log, stderr=subprocess.STDOUT)
        self.admin = redis.Redis.from_url(admin_url, **admin_kwargs)
        wait_for(self._pings, timeout=15, what=f"redis-server on {port}")

    def _pings(self) -> bool:
        if self.process.poll() is not None:
            raise ServerExited(self.log.read_text(errors="replace"))
        try:
            return bool(self.admin.ping())
        except redis.RedisError:
            return False

    def kill(self) -> None:
        self.admin.close()
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()


def tls_redis(directory: Path, certs: Certs, admin_password: str) -> ConfiguredRedis:
    """A Redis reachable only over TLS, asking clients for a certificate signed by the CA, and a password."""
    port = free_port()
    lines = [
        "port 0",
        f"tls-port {port}",
        f"tls-cert-file {certs.server_cert}",
        f"tls-key-file {certs.server_key}",
        f"tls-ca-cert-file {certs.ca}",
        "tls-auth-clients yes",
        f"requirepass {admin_password}",
    ]
    kwargs = {
        "ssl_ca_certs": str(certs.ca),
        "ssl_certfile": str(certs.client_cert),
        "ssl_keyfile": str(certs.client_key),
    }
    try:
        return ConfiguredRedis(directory, lines, port, f"rediss://:{admin_password}@127.0.0.1:{port}/0", kwargs)
    except ServerExited as exc:  # a build without TLS says so in its log ("TLS ... not ... supported/built")
        skip_unless("tls" not in str(exc).lower(), f"{redis_binary()} cannot serve TLS: {str(exc)[-300:]}")
        raise


def acl_redis(directory: Path, users: list[str], admin_password: str) -> ConfiguredRedis:
    """A Redis whose ``default`` user needs ``admin_password`` and with the given ``user ...`` ACL lines."""
    port = free_port()
    lines = [f"port {port}", f"requirepass {admin_password}", *users]
    return ConfiguredRedis(directory, lines, port, f"redis://:{admin_password}@127.0.0.1:{port}/0", {})


def _cluster_port() -> int:
    """A free port whose cluster bus port (+10000) is free too."""
    while True:
        port = free_port()
        if port > 55535:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        return port


class RedisCluster3:
    """Three masters on 127.0.0.1 ports, slots spread by ``redis-cli --cluster create``."""

    def __init__(
        self, directory: Path, password: str | None = None, users: Sequence[str] = (), certs: Certs | None = None
    ) -> None:
        """``certs``: every node speaks TLS only (clients and the cluster bus), asking for client certificates."""
        cli = need_binary("redis-cli", package="redis-tools")
        self.ports = [_cluster_port() for _ in range(3)]
        auth = [f"requirepass {password}", f"masterauth {password}"] if password else []
        self.nodes: list[ConfiguredRedis] = []
        userinfo = f":{password}@" if password else ""
        scheme = "rediss" if certs else "redis"
        tls_kwargs: dict[str, str] = {}
        tls_cli: list[str] = []
        if certs:
            tls_kwargs = {
                "ssl_ca_certs": str(certs.ca),
                "ssl_certfile": str(certs.client_cert),
                "ssl_keyfile": str(certs.client_key),
            }
            tls_cli = [
                "--tls",
                "--cacert",
                str(certs.ca),
                "--cert",
                str(certs.client_cert),
                "--key",
                str(certs.client_key),
            ]
        try:
            for port in self.ports:
                listen = [f"port {port}"]
                if certs:
                    listen = [
                        "port 0",
                        f"tls-port {port}",
                        "tls-cluster yes",
                        "tls-replication yes",
                        f"tls-cert-file {certs.server_cert}",
                        f"tls-key-file {certs.server_key}",
                        f"tls-ca-cert-file {certs.ca}",
                        "tls-auth-clients yes",
                    ]
                lines = [
                    *listen,
                    "cluster-enabled yes",
                    f"cluster-config-file nodes-{port}.conf",
                    "cluster-node-timeout 5000",
                    *auth,
                    *users,
                ]
                url = f"{scheme}://{userinfo}127.0.0.1:{port}/0"
                self.nodes.append(ConfiguredRedis(directory / str(port), lines, port, url, tls_kwargs))
            command = [cli, *tls_cli, "--cluster", "create", *(f"127.0.0.1:{p}" for p in self.ports), "--cluster-yes"]
            if password:
                command[1:1] = ["-a", password, "--no-auth-warning"]
            created = subprocess.run(command, capture_output=True, text=True, timeout=60)
            assert created.returncode == 0, created.stdout + created.stderr
            wait_for(self._ok, timeout=30, what="cluster_state:ok on every node")
        except BaseException:
            self.kill()
            raise
        self.url = f"{scheme}+cluster://{userinfo}127.0.0.1:{self.ports[0]}/0"

    def _ok(self) -> bool:
        return all(node.admin.cluster("info").get("cluster_state") == "ok" for node in self.nodes)

    def kill(self) -> None:
        for node in self.nodes:
            node.kill()
