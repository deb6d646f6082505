"""User agents → implementation and major version, with agents seen on the real network."""

from __future__ import annotations

import polars as pl
import pytest

from pipelines.nodes.clients import CLIENTS, client_columns, parse_user_agents

CASES = [
    # (user agent, client, version, major)
    ("/Satoshi:27.0.0/", "Bitcoin Core", "27.0.0", "Bitcoin Core 27"),
    ("/Satoshi:28.1.0/", "Bitcoin Core", "28.1.0", "Bitcoin Core 28"),
    ("/Satoshi:0.21.1/", "Bitcoin Core", "0.21.1", "Bitcoin Core 0.21"),
    ("/Satoshi:0.19.0.1/", "Bitcoin Core", "0.19.0.1", "Bitcoin Core 0.19"),
    ("/Satoshi:0.8.6/", "Bitcoin Core", "0.8.6", "Bitcoin Core 0.8"),
    ("/Satoshi:25.0.0(FutureBit-Apollo-Node)/", "Bitcoin Core", "25.0.0", "Bitcoin Core 25"),
    ("/Satoshi:22.0.0(RoninDojo 1.14.1)/", "Bitcoin Core", "22.0.0", "Bitcoin Core 22"),
    ("/Satoshi:0.20.1(Omni:0.11.0)/", "Bitcoin Core", "0.20.1", "Bitcoin Core 0.20"),
    ("/Satoshi:23.0.0(needs-coffee; needs-coffee)/", "Bitcoin Core", "23.0.0", "Bitcoin Core 23"),
    ("/Satoshi:22.0.0()/", "Bitcoin Core", "22.0.0", "Bitcoin Core 22"),
    ("/Satoshi:0.12.1(bitcore)/", "Bitcoin Core", "0.12.1", "Bitcoin Core 0.12"),
    ("/Satoshi:23.99.0/", "Bitcoin Core", "23.99.0", "Bitcoin Core 23.99"),
    ("/Satoshi:0.14.99/", "Bitcoin Core", "0.14.99", "Bitcoin Core 0.14.99"),
    ("  /Satoshi:26.0.0/  ", "Bitcoin Core", "26.0.0", "Bitcoin Core 26"),
    ("/Satoshi:26.1.0/Knots:20240801/", "Bitcoin Knots", "26.1.0", "Bitcoin Knots 26"),
    ("/Satoshi:23.0.0/Knots:20220529/", "Bitcoin Knots", "23.0.0", "Bitcoin Knots 23"),
    ("/Satoshi:0.21.0/Knots:20210130/", "Bitcoin Knots", "0.21.0", "Bitcoin Knots 0.21"),
    ("/Satoshi:21.2.0/Knots:20210629/", "Bitcoin Knots", "21.2.0", "Bitcoin Knots 21"),
    ("/btcwire:0.5.0/btcd:0.24.0/", "btcd", "0.24.0", "btcd 0.24"),
    ("/btcwire:0.5.0/btcd:0.22.1/", "btcd", "0.22.1", "btcd 0.22"),
    ("/bcoin:2.2.0/", "bcoin", "2.2.0", "bcoin 2"),
    ("/bcoin:v1.0.2/", "bcoin", "1.0.2", "bcoin 1"),
    ("/libbitcoin:3.6.0/", "libbitcoin", "3.6.0", "libbitcoin 3"),
    ("/Bitcoin ABC:0.26.2(EB32.0)/", "other", None, "other"),
    ("/BitcoinUnlimited:1.0.3(EB16; AD12)/", "other", None, "other"),
    ("/Classic:1.2.0(EB3.7)/", "other", None, "other"),
    ("/Gocoin:1.10.2pre/", "other", None, "other"),
    ("/bitnodes.io:0.2/", "other", None, "other"),
    ("/Satoshi:1.14.5(2x)/", "other", None, "other"),  # btc1, never a Bitcoin Core version
    ("/Satoshi:0.43.0/", "other", None, "other"),
    ("/Satoshi:27.0.0", "other", None, "other"),
    ("Satoshi:27.0.0/", "other", None, "other"),
    ("pbtc", "other", None, "other"),
    ("", "unknown", None, "unknown"),
    (None, "unknown", None, "unknown"),
]


def test_user_agents_parse_to_client_version_and_major() -> None:
    agents = pl.Series("user_agent", [case[0] for case in CASES], dtype=pl.String)
    parsed = parse_user_agents(agents)
    assert parsed.columns == ["client", "client_version", "client_major"]
    assert parsed.rows() == [case[1:] for case in CASES]
    assert set(parsed["client"]) <= set(CLIENTS)


def test_client_columns_work_on_any_column_in_a_lazy_frame() -> None:
    frame = pl.LazyFrame({"agent": ["/Satoshi:27.1.0/", "/bcoin:2.2.0/"], "n": [1, 2]})
    out = frame.with_columns(client_columns("agent")).collect()
    assert out["client_major"].to_list() == ["Bitcoin Core 27", "bcoin 2"]
    expr_out = frame.select(client_columns(pl.col("agent").str.to_lowercase())).collect()
    assert expr_out["client"].to_list() == ["other", "bcoin"]  # "/satoshi:" is not Core's agent


@pytest.mark.parametrize("agent", ["/Satoshi:/", "/Satoshi:x.y.z/", "/btcd:/", "/Knots:20240801/"])
def test_malformed_agents_are_other(agent: str) -> None:
    assert parse_user_agents(pl.Series([agent])).row(0) == ("other", None, "other")
