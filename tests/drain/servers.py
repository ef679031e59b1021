"""Private servers the TLS and Sentinel tests start and stop themselves: a certificate
authority with a server certificate for loopback, ``redis-server`` with only a TLS port,
a PostgreSQL cluster with ``ssl = on``, and a Redis master + replica + sentinels. Nothing here
touches the shared PostgreSQL or Redis."""

from __future__ import annotations

import datetime
import ipaddress
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import redis
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

POSTGRES_BIN = Path("/usr/lib/postgresql/15/bin")
START_TIMEOUT = 30


@dataclass(frozen=True)
class Certificates:
    ca: Path
    cert: Path
    key: Path


def free_port() -> int:
    """A port nobody listens on now (for servers that cannot be told to pick one)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def make_certificates(directory: Path, name: str = "MediaNest test CA") -> Certificates:
    """A new CA and a certificate it signs for ``localhost`` and ``127.0.0.1``."""
    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    paths = Certificates(directory / "ca.pem", directory / "server.pem", directory / "server.key")
    paths.ca.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    paths.key.chmod(0o600)
    return paths


def _wait_for_port(port: int, process: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"{what} exited with {process.returncode}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise AssertionError(f"{what} did not listen on port {port}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


@contextmanager
def tls_redis(directory: Path, certificates: Certificates) -> Iterator[int]:
    """A private ``redis-server`` listening only on a TLS port (returned)."""
    port = free_port()
    process = subprocess.Popen(
        [
            "redis-server",
            "--port",
            "0",
            "--tls-port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--tls-cert-file",
            str(certificates.cert),
            "--tls-key-file",
            str(certificates.key),
            "--tls-ca-cert-file",
            str(certificates.ca),
            "--tls-auth-clients",
            "no",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(directory),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for_port(port, process, "the TLS redis-server")
        yield port
    finally:
        _stop(process)


def _as_postgres() -> list[str]:
    """How to run PostgreSQL's programs: as the ``postgres`` user when this is root."""
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


@contextmanager
def tls_postgres(certificates: Certificates) -> Iterator[int]:
    """A private PostgreSQL cluster (trust, user ``postgres``) that accepts TLS connections
    only, on a free loopback port (returned). It lives in a directory of its own under the
    system's temporary directory (one PostgreSQL's user can enter), removed afterwards."""
    directory = Path(tempfile.mkdtemp(prefix="medianest-tls-pg-"))
    try:
        yield from _run_postgres(directory, certificates)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _run_postgres(directory: Path, certificates: Certificates) -> Iterator[int]:
    data = directory / "pgdata"
    for source, name in ((certificates.cert, "server.pem"), (certificates.key, "server.key")):
        shutil.copy(source, directory / name)
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        for path in (directory, *directory.iterdir()):
            os.chown(path, owner.pw_uid, owner.pw_gid)
    subprocess.run(
        [
            *_as_postgres(),
            str(POSTGRES_BIN / "initdb"),
            "-D",
            str(data),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
        ],
        check=True,
        capture_output=True,
    )
    (data / "pg_hba.conf").write_text(
        "local all all trust\n"
        "hostssl all all 127.0.0.1/32 trust\n"
        "hostnossl all all 0.0.0.0/0 reject\n"
    )
    port = free_port()
    process = subprocess.Popen(
        [
            *_as_postgres(),
            str(POSTGRES_BIN / "postgres"),
            "-D",
            str(data),
            "-c",
            f"port={port}",
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            f"unix_socket_directories={directory}",
            "-c",
            "ssl=on",
            "-c",
            f"ssl_cert_file={directory / 'server.pem'}",
            "-c",
            f"ssl_key_file={directory / 'server.key'}",
            "-c",
            "fsync=off",
            "-c",
            "shared_buffers=16MB",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for_port(port, process, "the TLS PostgreSQL")
        yield port
    finally:
        _stop(process)


@dataclass
class SentinelSet:
    """A Redis master, its replica and three sentinels watching them as ``mymaster``."""

    master_port: int
    replica_port: int
    sentinel_ports: list[int]
    processes: dict[int, subprocess.Popen[bytes]]

    @property
    def url(self) -> str:
        hosts = ",".join(f"127.0.0.1:{port}" for port in self.sentinel_ports)
        return f"redis+sentinel://{hosts}/mymaster/0"

    def master(self) -> int:
        """The port of the master the sentinels name now."""
        client = redis.Redis(port=self.sentinel_ports[0], socket_timeout=2)
        try:
            _host, port = client.execute_command("SENTINEL GET-MASTER-ADDR-BY-NAME", "mymaster")
        finally:
            client.close()
        return int(port)

    def kill(self, port: int) -> None:
        process = self.processes[port]
        process.kill()
        process.wait(10)


def _redis(port: int, directory: Path, *extra: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(directory),
            *extra,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


@contextmanager
def sentinel_set(directory: Path) -> Iterator[SentinelSet]:
    """Start a master, a replica and three sentinels (quorum 2, down after 500 ms)."""
    directory.mkdir(parents=True, exist_ok=True)
    master, replica = free_port(), free_port()
    processes: dict[int, subprocess.Popen[bytes]] = {}
    try:
        processes[master] = _redis(master, directory)
        _wait_for_port(master, processes[master], "the Redis master")
        processes[replica] = _redis(replica, directory, "--replicaof", "127.0.0.1", str(master))
        _wait_for_port(replica, processes[replica], "the Redis replica")
        sentinels = []
        for number in range(3):
            port = free_port()
            config = directory / f"sentinel-{number}.conf"
            config.write_text(
                f"port {port}\nbind 127.0.0.1\ndir {directory}\n"
                f"sentinel monitor mymaster 127.0.0.1 {master} 2\n"
                "sentinel down-after-milliseconds mymaster 500\n"
                "sentinel failover-timeout mymaster 3000\n"
                "sentinel parallel-syncs mymaster 1\n"
            )
            processes[port] = subprocess.Popen(
                ["redis-server", str(config), "--sentinel"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            _wait_for_port(port, processes[port], "a sentinel")
            sentinels.append(port)
        found = SentinelSet(master, replica, sentinels, processes)
        _wait_until_replicated(found)
        yield found
    finally:
        for process in processes.values():
            _stop(process)


def _wait_until_replicated(found: SentinelSet) -> None:
    """Until the replica is in sync and every sentinel knows it and the other sentinels."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        replica = redis.Redis(port=found.replica_port, socket_timeout=2)
        try:
            synced = replica.info("replication").get("master_link_status") == "up"
        finally:
            replica.close()
        known = True
        for port in found.sentinel_ports:
            client = redis.Redis(port=port, socket_timeout=2, decode_responses=True)
            try:
                master = client.execute_command("SENTINEL MASTER", "mymaster")
                info = (
                    dict(zip(master[::2], master[1::2], strict=False))
                    if isinstance(master, list)
                    else master
                )
                known = known and int(info["num-slaves"]) >= 1
                known = known and int(info["num-other-sentinels"]) >= 2
            finally:
                client.close()
        if synced and known:
            return
        time.sleep(0.1)
    raise AssertionError("the sentinels did not see the replica and each other in time")
