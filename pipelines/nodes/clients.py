"""Node software from the user agent a node announces (BIP 14: ``/Name:version(comments)/...``).

``client``: Bitcoin Core (``/Satoshi:x.y.z/``, comments such as ``(FutureBit-Apollo-Node)``
ignored), Bitcoin Knots (``/Satoshi:x.y.z/Knots:yyyymmdd/``, Core's version first), btcd
(``/btcwire:…/btcd:x.y.z/``), bcoin, libbitcoin, ``other`` (any other agent, including forks of
other chains such as Bitcoin ABC, and ``Satoshi`` versions that Bitcoin Core never had: 0.22+ and
1–21, e.g. btc1's ``/Satoshi:1.14.5(2x)/``) or ``unknown`` (no agent).

``client_version``: the implementation's version (Core's for Knots); ``client_major``: the
implementation with its major version, ``"Bitcoin Core 27"`` for ``27.0.0``, ``"Bitcoin Core 0.21"``
for ``0.21.1`` (0.x versions are named by their second number), a development build keeping its
``.99``: ``"Bitcoin Core 23.99"``.
"""

from __future__ import annotations

import polars as pl

CORE = "Bitcoin Core"
KNOTS = "Bitcoin Knots"
OTHER = "other"
UNKNOWN = "unknown"
CLIENTS = (CORE, KNOTS, "btcd", "bcoin", "libbitcoin", OTHER, UNKNOWN)

_VERSION = r"v?(\d+(?:\.\d+)*)"


def _major(version: pl.Expr) -> pl.Expr:
    """'27' for 27.0.0, '0.21' for 0.21.1, '23.99' for 23.99.0, '0.14.99' for 0.14.99."""
    parts = version.str.split(".")
    first = parts.list.get(0, null_on_oob=True)
    second = parts.list.get(1, null_on_oob=True)
    third = parts.list.get(2, null_on_oob=True)
    return (
        pl.when(first == "0")
        .then(
            pl.when(third == "99")
            .then(pl.concat_str(first, second, third, separator="."))
            .otherwise(pl.concat_str(first, second, separator=".", ignore_nulls=True))
        )
        .when(second == "99")
        .then(pl.concat_str(first, second, separator="."))
        .otherwise(first)
    )


def client_columns(user_agent: str | pl.Expr = "user_agent") -> list[pl.Expr]:
    """Expressions for ``client``, ``client_version`` and ``client_major`` from user agents."""
    agent = pl.col(user_agent) if isinstance(user_agent, str) else user_agent
    agent = agent.str.strip_chars()
    satoshi = agent.str.extract(rf"^/Satoshi:{_VERSION}[/(]")
    satoshi_numbers = satoshi.str.split(".")
    first = satoshi_numbers.list.get(0).cast(pl.Int64, strict=False)
    second = satoshi_numbers.list.get(1, null_on_oob=True).cast(pl.Int64, strict=False)
    core_version = (first >= 22) | ((first == 0) & (second <= 21))
    btcd = agent.str.extract(rf"/btcd:{_VERSION}[/(]")
    bcoin = agent.str.extract(rf"^/bcoin:{_VERSION}[/(]")
    libbitcoin = agent.str.extract(rf"(?i)/libbitcoin(?: server)?:{_VERSION}[/(]")
    client = (
        pl.when(agent.is_null() | (agent == ""))
        .then(pl.lit(UNKNOWN))
        .when(satoshi.is_not_null() & agent.str.contains(r"/Knots:\d"))
        .then(pl.lit(KNOTS))
        .when(satoshi.is_not_null() & core_version)
        .then(pl.lit(CORE))
        .when(btcd.is_not_null())
        .then(pl.lit("btcd"))
        .when(bcoin.is_not_null())
        .then(pl.lit("bcoin"))
        .when(libbitcoin.is_not_null())
        .then(pl.lit("libbitcoin"))
        .otherwise(pl.lit(OTHER))
    )
    version = (
        pl.when(client.is_in([CORE, KNOTS]))
        .then(satoshi)
        .when(client == "btcd")
        .then(btcd)
        .when(client == "bcoin")
        .then(bcoin)
        .when(client == "libbitcoin")
        .then(libbitcoin)
    )
    major = (
        pl.when(version.is_null())
        .then(client)
        .otherwise(pl.concat_str(client, pl.lit(" "), _major(version)))
    )
    return [client.alias("client"), version.alias("client_version"), major.alias("client_major")]


def parse_user_agents(agents: pl.Series) -> pl.DataFrame:
    """``client``, ``client_version``, ``client_major`` for each user agent, in order."""
    return pl.DataFrame({"user_agent": agents.cast(pl.String)}).select(client_columns())
