"""The deployment files: the code-location image (deploy/Dockerfile, .dockerignore), its config
(deploy/observatory.toml) and the values for Dagster's Helm chart (deploy/helm/).

No docker, no cluster, no network: each file is parsed and held against what the code, the other
files and the chart expect. The chart's schema is vendored in tests/data/ (origin in its README).
"""

from __future__ import annotations

import copy
import json
import re
import shlex
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from pipelines import config as observatory_config
from pipelines.cli import POSTGRES_STORAGE
from pipelines.freshness import CODE_DIRS, CODE_FILES

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
VALUES = DEPLOY / "helm" / "values.yaml"
CHART_SCHEMA = Path(__file__).resolve().parent / "data" / "dagster_chart_values.schema.json"
IMAGE_CONFIG = "/opt/observatory/deploy/observatory.toml"  # where the Dockerfile puts the config
RELEASE = "observatory"  # the Helm release name the README installs
# Config keys that would hold a credential.
CREDENTIAL_WORDS = ("password", "passwd", "secret", "token", "access_key", "api_key", "credential")


def pyproject() -> dict[str, Any]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def deploy_config() -> dict[str, Any]:
    return tomllib.loads((DEPLOY / "observatory.toml").read_text())


def values() -> dict[str, Any]:
    return yaml.safe_load(VALUES.read_text())


def yaml_documents(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def code_location() -> dict[str, Any]:
    """The one user deployment of the values."""
    deployments = values()["dagster-user-deployments"]["deployments"]
    assert len(deployments) == 1, deployments
    return deployments[0]


def names(refs: list[dict[str, str]]) -> list[str]:
    return [ref["name"] for ref in refs]


def dagster_version() -> str:
    pins = [d for d in pyproject()["project"]["dependencies"] if d.startswith("dagster==")]
    assert len(pins) == 1, pins
    return pins[0].removeprefix("dagster==")


# --- Dockerfile ------------------------------------------------------------------------------


def dockerfile_stages() -> list[list[tuple[str, str]]]:
    """The Dockerfile's stages, each a list of (INSTRUCTION, arguments) with continuation lines
    joined and comments dropped; instructions before the first FROM form stage 0."""
    stages: list[list[tuple[str, str]]] = [[]]
    current = ""
    for line in (DEPLOY / "Dockerfile").read_text().splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        current += stripped
        word, _, rest = current.partition(" ")
        if word.upper() == "FROM":
            stages.append([])
        stages[-1].append((word.upper(), rest.strip()))
        current = ""
    return stages


def instruction_args(stage: list[tuple[str, str]], name: str) -> list[str]:
    return [rest for word, rest in stage if word == name]


def declared_names(word: str, rest: str) -> list[str]:
    """The variable names an ARG or ENV instruction declares."""
    tokens = shlex.split(rest)
    if word == "ARG" or "=" in tokens[0]:
        return [t.split("=", 1)[0] for t in tokens]
    return [tokens[0]]  # legacy `ENV NAME value`


def env_values(stage: list[tuple[str, str]]) -> dict[str, str]:
    found = {}
    for rest in instruction_args(stage, "ENV"):
        found.update(t.split("=", 1) for t in shlex.split(rest) if "=" in t)
    return found


def global_args() -> dict[str, str]:
    """The ARGs declared before the first FROM, with their defaults."""
    found = {}
    for rest in instruction_args(dockerfile_stages()[0], "ARG"):
        found.update(t.split("=", 1) for t in shlex.split(rest) if "=" in t)
    return found


def makefile_uv_version() -> str:
    found = re.search(r"^UV_VERSION\s*:?=\s*(\S+)", (ROOT / "Makefile").read_text(), re.M)
    assert found, "UV_VERSION not found in the Makefile"
    return found.group(1)


def test_dockerfile_builds_from_the_lock_on_a_python_base_in_two_stages() -> None:
    stages = dockerfile_stages()
    builds, final = stages[1:-1], stages[-1]
    assert builds, "the build tools need a stage of their own"
    base = global_args().get("PYTHON_IMAGE", "")
    assert base.startswith("python:3.11-slim"), base  # the image's Python: none is downloaded
    images = [shlex.split(stage[0][1])[0] for stage in stages[1:]]
    assert images == ["${PYTHON_IMAGE}"] * len(images), images
    runs = [rest for stage in builds for rest in instruction_args(stage, "RUN")]
    syncs = [r for r in runs if "uv sync" in r]
    assert syncs, runs
    for sync in syncs:
        assert "--frozen" in sync and "--no-dev" in sync and "--compile-bytecode" in sync, sync
    assert not any(re.search(r"uv (lock|add|pip)|pip install -r", r) for r in runs), runs
    # uv as the Makefile pins it, installed in the build stage only
    uv_installs = [r for r in runs if re.search(r"pip install .*uv==", r)]
    uv_args = [a for stage in builds for a in instruction_args(stage, "ARG")]
    assert uv_installs and "uv==${UV_VERSION}" in uv_installs[0], runs
    assert f"UV_VERSION={makefile_uv_version()}" in uv_args, uv_args
    assert env_values(builds[0]).get("UV_PYTHON_DOWNLOADS") == "never"
    final_runs = " ".join(instruction_args(final, "RUN"))
    assert "uv" not in final_runs.split() and "pip" not in final_runs, final_runs


def test_dockerfile_final_stage_runs_the_grpc_server_as_a_fixed_non_root_user() -> None:
    final = dockerfile_stages()[-1]
    users = instruction_args(final, "USER")
    assert users, "the final stage must name a USER"
    uid = users[-1].split(":")[0]
    assert uid.isdigit() and int(uid) != 0, users  # numeric, so runAsNonRoot can verify it
    assert f"--uid {uid}" in " ".join(instruction_args(final, "RUN"))
    env = env_values(final)
    assert env.get(observatory_config.CONFIG_ENV_VAR) == IMAGE_CONFIG
    copies = instruction_args(dockerfile_stages()[-2], "COPY")
    assert f"deploy/observatory.toml ./{Path(IMAGE_CONFIG).relative_to('/opt/observatory')}" in (
        copies
    ), copies
    assert instruction_args(final, "EXPOSE") == ["3030"]
    (cmd,) = instruction_args(final, "CMD") or instruction_args(final, "ENTRYPOINT")
    target = pyproject()["tool"]["dg"]["project"]["code_location_target_module"]
    server = ["dagster", "api", "grpc", "-m", target, "-h", "0.0.0.0", "-p", "3030"]
    assert json.loads(cmd) == server


def test_dockerfile_declares_no_secret() -> None:
    """No ARG or ENV whose name looks like a credential: build arguments and env stay in the
    image's history; credentials come from Kubernetes Secrets when a pod starts."""
    declared = [
        name
        for stage in dockerfile_stages()
        for word, rest in stage
        if word in ("ARG", "ENV")
        for name in declared_names(word, rest)
    ]
    assert "UV_VERSION" in declared and "OBSERVATORY_CONFIG" in declared, declared
    secret_like = re.compile(r"KEY|SECRET|PASSWORD|TOKEN|CREDENTIAL", re.I)
    suspicious = [name for name in declared if secret_like.search(name)]
    assert not suspicious, suspicious


def test_dockerfile_copies_what_the_code_fingerprint_reads() -> None:
    """The code finds its SQL, suites and seeds beside pipelines/ and hashes them with
    pyproject.toml and uv.lock: the image must hold all of them."""
    copied = {
        source.rstrip("/")
        for rest in instruction_args(dockerfile_stages()[-2], "COPY")
        if not rest.startswith("--from")
        for source in shlex.split(rest)[:-1]
    }
    missing = set(CODE_DIRS) | set(CODE_FILES) | {"configs", "README.md"}
    assert missing <= copied, missing - copied


# --- .dockerignore -----------------------------------------------------------------------------


def _ignore_regex(pattern: str) -> re.Pattern[str]:
    """A .dockerignore pattern as a regex: `**` any number of folders, `*` and `?` within one."""
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out)


def dockerignored(path: str) -> bool:
    """Whether Docker leaves ``path`` out of the build context: the last pattern that matches it
    or one of its folders decides, `!` patterns bringing paths back."""
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    rules = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    parts = path.split("/")
    candidates = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    ignored = False
    for rule in rules:
        negated = rule.startswith("!")
        regex = _ignore_regex(rule.removeprefix("!").strip("/"))
        if any(regex.fullmatch(c) for c in candidates):
            ignored = not negated
    return ignored


@pytest.mark.parametrize(
    "path",
    [
        ".venv/bin/python",
        ".git/HEAD",
        ".tools/bin/uv",
        "warehouse/observatory.duckdb",
        "warehouse/build/observatory.duckdb",
        "warehouse/lake/raw/blocks/feed=mempool/month=2024-01/data.parquet",
        "warehouse/dagster/dagster.yaml",
        "pipelines/__pycache__/config.cpython-311.pyc",
    ],
)
def test_dockerignore_keeps_environments_and_data_homes_out(path: str) -> None:
    assert dockerignored(path), path


def test_dockerignore_keeps_what_the_image_copies() -> None:
    copied = [
        source
        for rest in instruction_args(dockerfile_stages()[-2], "COPY")
        if not rest.startswith("--from")
        for source in shlex.split(rest)[:-1]
    ]
    files = []
    for source in copied:
        path = ROOT / source
        files += [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    needed = [p.relative_to(ROOT).as_posix() for p in files if "__pycache__" not in p.parts]
    assert len(needed) > 100, needed  # the package, the SQL models, the suites
    assert not [p for p in needed if dockerignored(p)]
    assert not dockerignored("warehouse/README.md")


# --- deploy/observatory.toml ---------------------------------------------------------------------


def test_deploy_config_reads_the_live_sources_of_the_default_config() -> None:
    deployed = deploy_config()
    default = tomllib.loads((ROOT / "configs" / "default.toml").read_text())
    assert deployed["sources"] == default["sources"]
    # it differs from the default only in where things live and how runs execute
    deployment_keys = {"data_home", "storage", "dagster", "execution"}
    assert {k: v for k, v in deployed.items() if k not in deployment_keys} == {
        k: v for k, v in default.items() if k not in deployment_keys
    }


def test_deploy_config_names_no_credential_and_no_lake() -> None:
    deployed = deploy_config()
    found: list[str] = []

    def walk(value: Any, where: str) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if any(w in key.lower() for w in CREDENTIAL_WORDS):
                    found.append(f"{where}{key}")
                walk(item, f"{where}{key}.")
        elif isinstance(value, list):
            for item in value:
                walk(item, where)
        elif isinstance(value, str) and re.search(r"://[^/@\s]+@", value):
            found.append(f"{where}: user info in {value!r}")

    walk(deployed, "")
    assert not found, found
    assert "lake" not in deployed.get("storage", {})  # the bucket comes from OBSERVATORY_LAKE
    assert deployed["data_home"] == "/var/lib/observatory"
    assert deployed["dagster"]["storage"] == "postgres"
    assert deployed["execution"]["executor"] == "k8s"


def test_deploy_config_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    """The config loader accepts the file with the lake the values give OBSERVATORY_LAKE."""
    lake = {e["name"]: e["value"] for e in code_location()["env"]}[observatory_config.LAKE_ENV_VAR]
    monkeypatch.setenv(observatory_config.LAKE_ENV_VAR, lake)
    monkeypatch.delenv(observatory_config.DATA_HOME_ENV_VAR, raising=False)
    monkeypatch.delenv(observatory_config.EXECUTOR_ENV_VAR, raising=False)
    loaded = observatory_config.load_config(DEPLOY / "observatory.toml")
    assert loaded.data_home == Path("/var/lib/observatory")
    assert loaded.lake == lake and lake.startswith("s3://")
    assert loaded.dagster_storage == "postgres"
    assert loaded.execution.executor == "k8s"
    default = observatory_config.load_config(ROOT / "configs" / "default.toml")
    assert loaded.sources.keys() == default.sources.keys()


# --- deploy/helm ---------------------------------------------------------------------------------


def test_values_serve_the_code_location_from_the_image() -> None:
    project = pyproject()
    dg = project["tool"]["dg"]["project"]
    assert values()["dagster-user-deployments"]["enabled"] is True
    location = code_location()
    assert location["name"] == dg["code_location_name"] == "observatory"
    assert location["dagsterApiGrpcArgs"] == ["-m", dg["code_location_target_module"]]
    assert dg["code_location_target_module"] == "pipelines.definitions"
    assert location["port"] == 3030
    image = location["image"]
    # the README builds and pushes the image the values name, tagged with the release's version
    readme = (ROOT / "README.md").read_text()
    tag = f"{image['repository']}:{project['project']['version']}"
    assert image["tag"] == project["project"]["version"]
    assert f"docker build -f deploy/Dockerfile -t {tag} ." in readme
    assert f"docker push {tag}" in readme


def run_launcher() -> dict[str, Any]:
    return values()["runLauncher"]["config"]["k8sRunLauncher"]


def warehouse_claim() -> str:
    """The one PersistentVolumeClaim the run launcher mounts (the warehouse volume)."""
    (claim,) = [
        v["persistentVolumeClaim"]["claimName"]
        for v in run_launcher()["volumes"]
        if "persistentVolumeClaim" in v
    ]
    return claim


def test_values_launch_runs_with_the_secrets_and_the_warehouse_volume() -> None:
    assert values()["runLauncher"]["type"] == "K8sRunLauncher"
    run = run_launcher()
    assert names(run["envSecrets"]) == names(code_location()["envSecrets"])
    claims = {
        v["name"]: v["persistentVolumeClaim"]["claimName"]
        for v in run["volumes"]
        if "persistentVolumeClaim" in v
    }
    assert list(claims.values()) == [warehouse_claim()], run["volumes"]
    (volume,) = claims
    mounts = [m["mountPath"] for m in run["volumeMounts"] if m["name"] == volume]
    assert mounts == [deploy_config()["data_home"]]
    # the image's user may write on the volume
    uid = int(instruction_args(dockerfile_stages()[-1], "USER")[-1].split(":")[0])
    assert run["runK8sConfig"]["podSpecConfig"]["securityContext"]["fsGroup"] == uid


def test_values_put_the_instance_on_postgres_with_the_password_from_a_secret() -> None:
    chart = values()
    postgres = chart["postgresql"]
    assert postgres["enabled"] is False and chart["generatePostgresqlPasswordSecret"] is False
    assert not any("password" in key.lower() for key in postgres), postgres
    secret_name = chart["global"]["postgresqlSecretName"]
    assert secret_name in names(run_launcher()["envSecrets"])
    # the same driver as the instance `observatory run` writes (SQLAlchemy 2.1 needs it named)
    assert re.findall(r"scheme: (\S+)", POSTGRES_STORAGE) == [postgres["postgresqlScheme"]]
    documents = yaml_documents(DEPLOY / "helm" / "secrets.example.yaml")
    (secret,) = [d for d in documents if d["metadata"]["name"] == secret_name]
    data = secret["stringData"]
    assert "postgresql-password" in data  # the key the chart reads
    assert data["DAGSTER_PG_HOST"] == postgres["postgresqlHost"]
    assert data["DAGSTER_PG_USERNAME"] == postgres["postgresqlUsername"]
    assert data["DAGSTER_PG_DB"] == postgres["postgresqlDatabase"]
    assert int(data["DAGSTER_PG_PORT"]) == postgres["service"]["port"]


def test_values_run_the_daemon_one_run_at_a_time_and_the_webserver() -> None:
    chart = values()
    daemon = chart["dagsterDaemon"]
    assert daemon["enabled"] is True
    assert daemon["runCoordinator"]["config"]["queuedRunCoordinator"]["maxConcurrentRuns"] == 1
    port = chart["dagsterWebserver"]["service"]["port"]
    readme = (ROOT / "README.md").read_text()
    assert f"port-forward svc/{RELEASE}-dagster-webserver 8080:{port}" in readme


def test_helm_commands_use_the_chart_of_the_locked_dagster_version() -> None:
    """The chart's version is the Dagster version it deploys; the image holds the locked one."""
    command = f"helm upgrade --install {RELEASE} dagster/dagster --version {dagster_version()}"
    assert command in VALUES.read_text()
    assert command in " ".join((ROOT / "README.md").read_text().replace("\\\n", " ").split())


def test_example_secrets_and_claim_match_the_values() -> None:
    run = run_launcher()
    namespace = run["jobNamespace"]
    secrets = yaml_documents(DEPLOY / "helm" / "secrets.example.yaml")
    assert [s["metadata"]["name"] for s in secrets] == names(run["envSecrets"])
    for secret in secrets:
        assert secret["kind"] == "Secret" and secret["metadata"]["namespace"] == namespace
        for key, value in secret["stringData"].items():
            if re.search(r"PASSWORD|SECRET|KEY_ID", key, re.I):
                assert value == "change-me", (key, value)  # obviously fake
    (claim,) = yaml_documents(DEPLOY / "helm" / "warehouse-pvc.yaml")
    assert claim["kind"] == "PersistentVolumeClaim"
    assert claim["metadata"] == {"name": warehouse_claim(), "namespace": namespace}
    # every step pod mounts it (the k8s executor copies the run launcher's volumes)
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]


def _relaxed(schema: Any) -> Any:
    """The chart's schema as it applies to this file alone: no `required` (helm validates the
    values merged over the chart's defaults, which supply them) and no references to
    kubernetesjsonschema.dev (Kubernetes objects such as volumes; they are not fetched)."""
    if isinstance(schema, dict):
        return {
            key: _relaxed(value)
            for key, value in schema.items()
            if key != "required" and not (key == "$ref" and not value.startswith("#"))
        }
    if isinstance(schema, list):
        return [_relaxed(item) for item in schema]
    return schema


def test_values_match_the_charts_schema() -> None:
    jsonschema = pytest.importorskip("jsonschema", reason="jsonschema is not installed")
    validator = jsonschema.Draft7Validator(_relaxed(json.loads(CHART_SCHEMA.read_text())))
    chart = values()
    assert not [e.message for e in validator.iter_errors(chart)]
    # the relaxed schema still refuses a misspelt key and a wrong type
    typo = copy.deepcopy(chart)
    launcher = typo["runLauncher"]["config"]["k8sRunLauncher"]
    launcher["volumeMount"] = launcher.pop("volumeMounts")
    assert not validator.is_valid(typo)
    wrong_type = copy.deepcopy(chart)
    wrong_type["dagster-user-deployments"]["deployments"][0]["port"] = "3030"
    assert not validator.is_valid(wrong_type)
