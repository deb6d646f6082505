"""Object storage settings come from the AWS environment; failures name the endpoint, never a
credential."""

import socket

import polars as pl
import pytest

from pipelines.object_lake import ObjectLake
from pipelines.storage import S3Location, StorageError, redact

SECRET = "wJalrXUtnFEMI-not-a-real-secret"


def test_location_from_url_and_environment() -> None:
    env = {"AWS_ENDPOINT_URL": "http://127.0.0.1:9000", "AWS_DEFAULT_REGION": "eu-west-3"}
    location = S3Location.from_url("s3://bucket/some/prefix/", env)
    assert (location.bucket, location.prefix) == ("bucket", "some/prefix")
    assert (location.endpoint, location.region) == ("http://127.0.0.1:9000", "eu-west-3")
    assert location.key("raw", "t") == "bucket/some/prefix/raw/t"
    assert location.url == "s3://bucket/some/prefix"
    # the S3-specific endpoint wins; without any, AWS itself
    env["AWS_ENDPOINT_URL_S3"] = "http://s3.local"
    assert S3Location.from_url("s3://b", env).endpoint == "http://s3.local"
    assert S3Location.from_url("s3://b", {}).where == "s3://b at AWS S3"
    with pytest.raises(ValueError, match="not an s3://bucket/prefix"):
        S3Location.from_url("/local/path", env)


def test_redact_removes_every_credential() -> None:
    env = {"AWS_ACCESS_KEY_ID": "AKIAEXAMPLE", "AWS_SECRET_ACCESS_KEY": SECRET}
    text = f"failed with key AKIAEXAMPLE and secret {SECRET}"
    assert redact(text, env) == "failed with key *** and secret ***"


def test_an_unreachable_server_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    lake = ObjectLake.open("s3://bucket/lake")
    with pytest.raises(StorageError) as error:
        lake.write(pl.DataFrame({"a": [1]}), "raw", "t")
    message = str(error.value)
    assert f"s3://bucket/lake at http://127.0.0.1:{port}" in message
    assert SECRET not in message and "AKIAEXAMPLE" not in message


def test_wrong_credentials_are_refused_by_the_server(s3_url: str, monkeypatch) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    with pytest.raises(StorageError) as error:
        ObjectLake.open(s3_url).write(pl.DataFrame({"a": [1]}), "raw", "t")
    assert SECRET not in str(error.value)


def test_a_named_profile_from_the_shared_credentials_file(
    s3_url: str, s3_env: dict, tmp_path, monkeypatch
) -> None:
    """Without key variables, the AWS SDK's chain: AWS_PROFILE in AWS_SHARED_CREDENTIALS_FILE."""
    credentials = tmp_path / "credentials"
    credentials.write_text(
        "[observatory]\n"
        f"aws_access_key_id = {s3_env['AWS_ACCESS_KEY_ID']}\n"
        f"aws_secret_access_key = {s3_env['AWS_SECRET_ACCESS_KEY']}\n"
    )
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_PROFILE", "observatory")
    lake = ObjectLake.open(s3_url)
    lake.write(pl.DataFrame({"a": [1]}), "raw", "t")
    assert lake.read("raw", "t")["a"].to_list() == [1]
