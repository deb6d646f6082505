"""Object storage for the lake: an S3-compatible bucket reached with pyarrow's S3 filesystem.

The config names only the place (``[storage] lake = "s3://bucket/prefix"``). Everything else comes
from the standard AWS environment, never from the config file: ``AWS_ENDPOINT_URL_S3`` or
``AWS_ENDPOINT_URL`` (a non-AWS server such as SeaweedFS or MinIO), ``AWS_REGION`` or
``AWS_DEFAULT_REGION``, and ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``/``AWS_SESSION_TOKEN``
(without them, the AWS SDK's own chain: ``AWS_PROFILE``, the shared files, instance roles).
Credentials are never printed: ``redact`` removes them from any text shown to a user.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

import pyarrow.fs as pafs

SECRET_VARIABLES = ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ACCESS_KEY_ID")
DEFAULT_REGION = "us-east-1"


class StorageError(OSError):
    """Object storage could not be reached or refused a request (message names the endpoint)."""


def is_s3_url(location: str) -> bool:
    return location.startswith("s3://")


@dataclass(frozen=True)
class S3Location:
    """A bucket and key prefix, and the endpoint and region taken from the environment."""

    bucket: str
    prefix: str
    endpoint: str | None
    region: str

    @classmethod
    def from_url(cls, url: str, env: Mapping[str, str] | None = None) -> S3Location:
        env = os.environ if env is None else env
        parts = urlsplit(url)
        if parts.scheme != "s3" or not parts.netloc:
            raise ValueError(f"{url!r} is not an s3://bucket/prefix location")
        endpoint = env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL") or None
        region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or DEFAULT_REGION
        return cls(parts.netloc, parts.path.strip("/"), endpoint, region)

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}".rstrip("/")

    @property
    def where(self) -> str:
        """The location and its endpoint, for messages."""
        return f"{self.url} at {self.endpoint or 'AWS S3'}"

    def key(self, *parts: str) -> str:
        """The filesystem path (``bucket/prefix/...``) of the object below the prefix."""
        return "/".join(p for p in (self.bucket, self.prefix, *parts) if p)

    def filesystem(self, env: Mapping[str, str] | None = None) -> pafs.S3FileSystem:
        env = os.environ if env is None else env
        options: dict[str, object] = {"region": self.region}
        if self.endpoint:
            options["endpoint_override"] = self.endpoint
        if env.get("AWS_ACCESS_KEY_ID") and env.get("AWS_SECRET_ACCESS_KEY"):
            options["access_key"] = env["AWS_ACCESS_KEY_ID"]
            options["secret_key"] = env["AWS_SECRET_ACCESS_KEY"]
            if env.get("AWS_SESSION_TOKEN"):
                options["session_token"] = env["AWS_SESSION_TOKEN"]
        # a request to a stopped server fails in seconds, not after minutes of retries
        options["connect_timeout"] = 5
        options["request_timeout"] = 60
        options["retry_strategy"] = pafs.AwsStandardS3RetryStrategy(max_attempts=3)
        return pafs.S3FileSystem(**options)


def redact(text: str, env: Mapping[str, str] | None = None) -> str:
    """``text`` with the values of the credential variables replaced by ``***``."""
    env = os.environ if env is None else env
    for name in SECRET_VARIABLES:
        value = env.get(name)
        if value:
            text = text.replace(value, "***")
    return text
