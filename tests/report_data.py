"""A small hand-made serving database for the report tests (tests/test_report*.py).

It holds a few rows of each table the report reads, with table and column comments, and leaves
out ``hashrate_geography_concentration`` on purpose so the report's "no data" path is exercised.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import duckdb

GENERATED_AT = datetime(2026, 4, 1, 12, 0, tzinfo=UTC)
PROVENANCE = [
    {
        "source": "blocks.sample",
        "kind": "labelled_blocks",
        "location": "/data/blocks/labelled-sample.csv",
        "licence": "BSD-2-Clause (test)",
        "retrieved_at": datetime(2026, 3, 31, 23, 0, tzinfo=UTC),
    },
    {
        "source": "ai_models.notable",
        "kind": "epoch_models_csv",
        "location": "https://epoch.ai/data/notable_ai_models.csv?<b>",
        "licence": "",  # filled in from LICENCES
        "retrieved_at": "2026-03-30T10:00:00+00:00",
    },
]
# The charts the fixture can draw: all but the hash rate HHI chart (its table is missing).
EXPECTED_CHARTS = 14
MISSING_TABLE = "hashrate_geography_concentration"

SCHEMA_SQL = """
CREATE SCHEMA IF NOT EXISTS raw;
CREATE SCHEMA IF NOT EXISTS staging;

CREATE TABLE decentralization_trends (
    domain VARCHAR, dimension VARCHAR, variant VARCHAR, metric VARCHAR, span VARCHAR,
    period_first DATE, period_last DATE, points BIGINT, first_value DOUBLE, last_value DOUBLE,
    slope_per_year DOUBLE, mann_kendall_s DOUBLE, mann_kendall_z DOUBLE, p_value DOUBLE,
    p_value_independent DOUBLE, variance_factor DOUBLE, q_value DOUBLE, family_size BIGINT,
    verdict VARCHAR, verdict_unadjusted VARCHAR, note VARCHAR
);
-- q-values by Benjamini-Hochberg within each domain and span; the AI compute Nakamoto trend is
-- significant at p < 0.05 but not after FDR control (q = 0.03·2/1 = 0.06)
INSERT INTO decentralization_trends VALUES
    ('bitcoin_mining', 'pool', 'unknown=entity', 'hhi', 'all', '2016-02-01', '2026-03-01', 109,
     1600, 1750, 31.5, 900, 3.1, 0.0021, 0.0004, 2.1, 0.0042, 2, 'centralizing', 'centralizing',
     NULL),
    ('bitcoin_mining', 'pool', 'unknown=entity', 'hhi', 'last_3y', '2023-03-01', '2026-03-01',
     37, 1855, 1701, -40.2, -80, -1.2, 0.23, 0.1, 1.4, 0.23, 1, 'no significant trend',
     'no significant trend', NULL),
    ('bitcoin_mining', 'owner', 'unknown=entity', 'nakamoto', 'all', '2016-02-01', '2026-03-01',
     109, 4, 3, -0.12, -500, -2.5, 0.012, 0.003, 1.9, 0.012, 2, 'centralizing', 'centralizing',
     NULL),
    ('bitcoin_nodes', 'country', 'overlay=excluded; source=edi', 'hhi', 'all', '2025-03-28',
     '2026-03-01', 3, 1837, 1511, -313, -3, -1.0, 0.29, 0.29, 1.0, 0.29, 1,
     'no significant trend', 'no significant trend', 'few points'),
    ('ai_models', 'organization', 'dataset=notable; weighting=models', 'hhi', 'all',
     '2000-01-01', '2025-01-01', 26, 5000, 759, -139, -200, -3.3, 0.0009, 0.0001, 1.2, 0.0018, 2,
     'decentralizing', 'decentralizing', NULL),
    ('ai_models', 'openness', 'dataset=notable', 'open_share', 'all', '2010-01-01', '2025-01-01',
     16, 0.1, 0.43, 0.02, 60, 2.2, 0.027, 0.01, 1.1, 0.027, 2, 'decentralizing',
     'decentralizing', NULL),
    ('ai_compute', 'owner', 'stock=median H100e', 'hhi', 'all', '2022-01-01', '2026-01-01', 17,
     1900, 2041, -54.6, -20, -1.05, 0.295, 0.2, 1.3, 0.295, 2, 'no significant trend',
     'no significant trend', NULL),
    ('ai_compute', 'owner', 'stock=median H100e', 'nakamoto', 'all', '2022-01-01', '2026-01-01',
     17, 3, 5, 0.4, 40, 2.17, 0.03, 0.01, 1.3, 0.06, 2, 'no significant trend',
     'decentralizing', NULL);
COMMENT ON TABLE decentralization_trends IS 'Trend tests of every scoreboard series (test).';

-- the periods the charts mark as partial (a running month, a year past the last publication)
CREATE TABLE decentralization_scoreboard (
    domain VARCHAR, dimension VARCHAR, variant VARCHAR, metric VARCHAR, period_start DATE,
    value DOUBLE, coverage DOUBLE, partial BOOLEAN
);
INSERT INTO decentralization_scoreboard VALUES
    ('bitcoin_mining', 'pool', 'unknown=entity', 'hhi', '2026-02-01', 1600, 1.0, false),
    ('bitcoin_mining', 'pool', 'unknown=entity', 'hhi', '2026-03-01', 1700, 0.5, true),
    ('bitcoin_mining', 'owner', 'unknown=entity', 'hhi', '2026-03-01', 1750, 1.0, false),
    ('ai_models', 'organization', 'dataset=notable; weighting=models', 'hhi', '2025-01-01', 759,
     0.6, true),
    ('ai_models', 'openness', 'dataset=notable', 'open_share', '2025-01-01', 0.43, 0.6, true);

CREATE TABLE mining_concentration (
    grouping VARCHAR, unknown_policy VARCHAR, "window" VARCHAR, window_start DATE,
    window_end DATE, blocks BIGINT, hhi DOUBLE, hhi_ci_low DOUBLE, hhi_ci_high DOUBLE,
    nakamoto BIGINT, nakamoto_ci_low BIGINT, nakamoto_ci_high BIGINT
);
INSERT INTO mining_concentration VALUES
    ('pool', 'entity', 'month', '2026-01-01', '2026-01-31', 4400, 1500, 1440, 1560, 3, 3, 4),
    ('pool', 'entity', 'month', '2026-02-01', '2026-02-28', 4200, 1600, 1530, 1670, 3, 2, 3),
    ('pool', 'entity', 'month', '2026-03-01', '2026-03-31', 4300, 1700, 1620, 1780, 3, 2, 3),
    ('owner', 'entity', 'month', '2026-01-01', '2026-01-31', 4400, 1550, 1490, 1610, 3, 3, 4),
    ('owner', 'entity', 'month', '2026-02-01', '2026-02-28', 4200, 1650, 1580, 1720, 3, 2, 3),
    ('owner', 'entity', 'month', '2026-03-01', '2026-03-31', 4300, 1750, 1670, 1830, 2, 2, 3),
    ('pool', 'excluded', 'month', '2026-03-01', '2026-03-31', 4290, 1710, 1630, 1790, 3, 2, 3),
    ('pool', 'entity', 'day', '2026-03-01', '2026-03-01', 140, 1800, 1200, 2400, 3, 2, 4);
COMMENT ON TABLE mining_concentration IS 'How concentrated Bitcoin mining is, per window.';
COMMENT ON COLUMN mining_concentration.hhi IS 'Herfindahl-Hirschman index, 0 to 10,000';

CREATE TABLE pool_shares (
    grouping VARCHAR, unknown_policy VARCHAR, "window" VARCHAR, window_start DATE,
    window_end DATE, window_label VARCHAR, entity VARCHAR, blocks BIGINT, share DOUBLE,
    share_ci_low DOUBLE, share_ci_high DOUBLE
);
INSERT INTO pool_shares VALUES
    ('pool', 'entity', 'month', '2026-03-01', '2026-03-31', '2026-03', 'Foundry USA', 1300,
     0.30, 0.28, 0.32),
    ('pool', 'entity', 'month', '2026-03-01', '2026-03-31', '2026-03', 'AntPool', 900, 0.21,
     0.19, 0.23),
    ('pool', 'entity', 'month', '2026-03-01', '2026-03-31', '2026-03', 'Pool <b>&</b> Co',
     100, 0.02, 0.015, 0.03),
    ('pool', 'entity', 'month', '2026-03-01', '2026-03-31', '2026-03', 'unknown', 2000, 0.47,
     0.45, 0.49),
    ('owner', 'entity', 'month', '2026-03-01', '2026-03-31', '2026-03', 'Bitmain', 1000, 0.23,
     0.21, 0.25),
    ('owner', 'entity', 'month', '2026-03-01', '2026-03-31', '2026-03', 'Foundry USA', 1300,
     0.30, 0.28, 0.32),
    ('pool', 'entity', 'month', '2026-02-01', '2026-02-28', '2026-02', 'Old Pool', 4200, 1.0,
     0.99, 1.0);
COMMENT ON TABLE pool_shares IS 'Each pool''s and owner''s share of the blocks of each window.';

CREATE TABLE node_dispersion (
    snapshot_date DATE, source VARCHAR, reachability VARCHAR, dimension VARCHAR,
    overlay_policy VARCHAR, nodes DOUBLE, hhi DOUBLE, nakamoto BIGINT
);
INSERT INTO node_dispersion VALUES
    ('2022-09-13', 'bitnodes_2022', 'crawled', 'country', 'excluded', 7000, 1280, 3),
    ('2022-09-13', 'bitnodes_2022', 'crawled', 'organization', 'excluded', 7000, 410, 11),
    ('2024-07-25', 'getaddr_gossip', 'gossip', 'country', 'excluded', 40000, 1330, 3),
    ('2025-03-28', 'edi', 'published', 'country', 'excluded', 6000, 1837, 2),
    ('2026-03-01', 'edi', 'published', 'country', 'excluded', 6100, 1511, 2),
    ('2025-03-28', 'edi', 'published', 'organization', 'excluded', 6000, 356, 10),
    ('2026-03-01', 'edi', 'published', 'organization', 'excluded', 6100, 325, 12),
    ('2026-03-01', 'edi', 'published', 'country', 'entity', 17000, 4500, 1);

CREATE TABLE node_distribution (
    snapshot_date DATE, source VARCHAR, reachability VARCHAR, dimension VARCHAR,
    overlay_policy VARCHAR, entity VARCHAR, nodes DOUBLE, share DOUBLE
);
INSERT INTO node_distribution VALUES
    ('2026-03-01', 'edi', 'published', 'country', 'excluded', 'US', 1800, 0.31),
    ('2026-03-01', 'edi', 'published', 'country', 'excluded', 'DE', 1100, 0.19),
    ('2026-03-01', 'edi', 'published', 'country', 'entity', 'overlay', 11000, 0.65),
    ('2026-03-01', 'edi', 'published', 'country', 'entity', 'US', 1800, 0.11),
    ('2026-03-01', 'edi', 'published', 'organization', 'excluded', 'Hetzner', 600, 0.10),
    ('2026-03-01', 'edi', 'published', 'organization', 'excluded', 'AT&T', 100, 0.02),
    ('2024-07-26', 'getaddr_gossip', 'gossip', 'country', 'excluded', 'CN', 9000, 0.5);

CREATE TABLE hashrate_geography (
    month DATE, country VARCHAR, country_name VARCHAR, share DOUBLE, hashrate_ehs DOUBLE
);
INSERT INTO hashrate_geography VALUES
    ('2021-12-01', 'US', 'United States', 0.36, 60), ('2021-12-01', 'CN', 'Mainland China',
     0.20, 35), ('2022-01-01', 'US', 'United States', 0.38, 71),
    ('2022-01-01', 'CN', 'Mainland China', 0.21, 40), ('2022-01-01', 'OTHER', 'Other', 0.09, 17);
COMMENT ON TABLE hashrate_geography IS 'Where Bitcoin''s hash rate sits, by country and month.';

CREATE TABLE ai_concentration (
    dataset VARCHAR, dimension VARCHAR, weighting VARCHAR, period VARCHAR, period_start DATE,
    period_end DATE, hhi DOUBLE, hhi_ci_low DOUBLE, hhi_ci_high DOUBLE, nakamoto BIGINT,
    nakamoto_ci_low BIGINT, nakamoto_ci_high BIGINT, models BIGINT
);
INSERT INTO ai_concentration VALUES
    ('notable', 'organization', 'models', 'year', '2023-01-01', '2023-12-31', 300, 200, 400, 12,
     8, 16, 116),
    ('notable', 'organization', 'models', 'year', '2024-01-01', '2024-12-31', 414, 302, 526, 8, 6,
     12, 96),
    ('notable', 'organization', 'models', 'year', '2025-01-01', '2025-12-31', 759, 489, 1029, 5,
     3, 8, 70),
    ('notable', 'country', 'models', 'year', '2024-01-01', '2024-12-31', 3600, 3000, 4200, 2, 1,
     2, 96),
    ('notable', 'country', 'models', 'year', '2025-01-01', '2025-12-31', 3800, 3200, 4500, 2, 1,
     2, 70);

CREATE TABLE ai_openness (
    year INTEGER, dataset VARCHAR, models BIGINT, models_known BIGINT, open_models BIGINT,
    open_share DOUBLE, open_share_ci_low DOUBLE, open_share_ci_high DOUBLE
);
INSERT INTO ai_openness VALUES
    (2024, 'notable', 96, 95, 39, 0.41, 0.32, 0.51),
    (2025, 'notable', 70, 69, 30, 0.43, 0.32, 0.55),
    (2024, 'all', 558, 442, 260, 0.59, 0.54, 0.63), (2025, 'all', 138, 131, 77, 0.59, 0.50, 0.67);

CREATE TABLE ai_compute_concentration (
    quarter DATE, quarter_end DATE, hhi DOUBLE, hhi_low DOUBLE, hhi_high DOUBLE,
    complete BOOLEAN
);
INSERT INTO ai_compute_concentration VALUES
    ('2025-07-01', '2025-09-30', 1720, 1650, 2070, true),
    ('2025-10-01', '2025-12-31', 1634, 1556, 1954, true),
    ('2026-01-01', '2026-03-31', 2041, 1844, 2572, false);

CREATE TABLE ai_compute_owners (
    quarter DATE, quarter_end DATE, owner VARCHAR, h100e DOUBLE, h100e_p05 DOUBLE,
    h100e_p95 DOUBLE
);
INSERT INTO ai_compute_owners VALUES
    ('2025-10-01', '2025-12-31', 'Google', 5049814, 4038585, 6127987),
    ('2025-10-01', '2025-12-31', 'Microsoft', 3416016, 2619865, 4434030),
    ('2025-10-01', '2025-12-31', 'Other', 3362580, 2227541, 4768244),
    ('2026-01-01', '2026-03-31', 'Google', 6000000, 5000000, 7000000);
COMMENT ON TABLE ai_compute_owners IS 'Who owns AI compute (test rows).';
COMMENT ON COLUMN ai_compute_owners.h100e IS 'median chip stock in H100-equivalents';

CREATE TABLE raw.blocks (height BIGINT, date DATE, feed VARCHAR);
INSERT INTO raw.blocks VALUES (1, '2026-03-27', 'slugs'), (2, '2026-03-28', 'slugs'),
    (3, '2018-10-18', 'btccom');
COMMENT ON TABLE raw.blocks IS 'Blocks from every configured feed (test).';
CREATE TABLE raw.ai_chip_owners (quarter DATE, quarter_end DATE, owner VARCHAR, feed VARCHAR);
INSERT INTO raw.ai_chip_owners VALUES ('2026-01-01', '2026-03-31', 'Google', 'ai_chip_owners');

CREATE VIEW staging.stg_pools AS SELECT 1 AS pool_id, 'Foundry USA' AS pool_name;
COMMENT ON VIEW staging.stg_pools IS 'Mining pools from the registry (test view).';
"""


def build_report_database(folder: Path) -> Path:
    """A DuckDB file in ``folder`` with the fixture tables; returns its path."""
    path = folder / "observatory.duckdb"
    con = duckdb.connect(str(path))
    try:
        con.execute(SCHEMA_SQL)
    finally:
        con.close()
    return path
