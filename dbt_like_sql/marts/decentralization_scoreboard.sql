-- One long table of every concentration series the observatory measures, in one shape, so that
-- Bitcoin mining, the node network, the geography of hash rate and AI can be read side by side.
-- A series is (domain, dimension, variant, metric); each row is one period of it and names the
-- mart it comes from (source_table). Mining: month windows; nodes: each snapshot (the
-- proportional overlay policy is left out: it has the excluded policy's shares); hash rate
-- geography: months; AI models: calendar years, and rolling 12 months at each quarter's end
-- (variant '...; period=rolling_12m': overlapping windows, so their trends rely on the
-- autocorrelation correction); AI openness: years; AI compute: quarters (those Epoch marks
-- incomplete left out). A period the data covers for less than 90% of its days (min_coverage
-- below) is kept with partial = true and left out of the trend tests: a mining month with blocks
-- on fewer than 90% of its days (the one-day first month of a feed, the running month, the edges
-- of a gap), an AI year or rolling window reaching past its dataset's last publication date.
-- materialized: table
-- column domain: bitcoin_mining, bitcoin_nodes, hashrate_geography, ai_models or ai_compute
-- column dimension: what the entities are: pool, owner, template_observed and template_inclusive (mining: the pool that built the block template, observed sharing only or partial evidence too), country, continent, asn, organization, hosting, network, client, client_version, organization_category, openness (AI open-weight shares)
-- column variant: how it was counted: unknown or overlay policy, source, dataset, weighting ('key=value; ...')
-- column period_start: first day of the period
-- column period_end: last day of the period (inclusive)
-- column metric: hhi, nakamoto, tau_033, tau_066, cr1, cr3, cr5, gini, entropy_bits, entropy_normalized, theil, effective_entities, open_share, compute_open_share
-- column value: the metric's value
-- column ci_low: low end of its 95% interval (mining, AI model counts, AI openness); for ai_compute hhi and cr1, the low end of the range the chip estimates' 5th/95th percentiles allow
-- column ci_high: high end of that interval or range
-- column sample_size: blocks, nodes or models behind the value (null for hash rate shares and chip stock, which are not samples)
-- column sample_unit: what sample_size counts
-- column source_table: the mart the row comes from
-- column coverage: share of the period's days the data covers: mining, days with blocks / days in the month; AI models and openness, days up to the dataset's last publication date / days in the period; 1 for node snapshots, Cambridge months and chip-stock quarters (complete by construction)
-- column partial: coverage below min_coverage (0.9): kept here, left out of decentralization_trends and drawn hollow on the report's charts
with settings as (
    select 0.9 as min_coverage  -- a period covered for less than this share of its days is partial
),
ai_last_day as (  -- the last publication date of each Epoch dataset: where its coverage ends
    select dataset, max(publication_date) as last_day from ai_models group by dataset
),
mining as (
    select
        'bitcoin_mining' as domain, grouping as dimension, 'unknown=' || unknown_policy as variant,
        window_start as period_start, window_end as period_end, blocks::double as sample_size,
        'blocks' as sample_unit, 'mining_concentration' as source_table,
        days_with_blocks / days_in_window as coverage,
        hhi, hhi_ci_low, hhi_ci_high, nakamoto::double as nakamoto,
        nakamoto_ci_low::double as nakamoto_ci_low, nakamoto_ci_high::double as nakamoto_ci_high,
        tau_033::double as tau_033, tau_066::double as tau_066, cr1, cr3, cr5, gini,
        entropy_bits, entropy_normalized, theil, effective_entities
    from mining_concentration
    where "window" = 'month'
),
nodes as (
    select
        'bitcoin_nodes' as domain, dimension,
        'overlay=' || overlay_policy || '; source=' || source as variant,
        snapshot_date as period_start, snapshot_date as period_end, nodes::double as sample_size,
        'nodes' as sample_unit, 'node_dispersion' as source_table, 1.0::double as coverage,
        hhi, null::double as hhi_ci_low, null::double as hhi_ci_high, nakamoto::double as nakamoto,
        null::double as nakamoto_ci_low, null::double as nakamoto_ci_high,
        tau_033::double as tau_033, tau_066::double as tau_066, cr1, cr3, cr5, gini,
        entropy_bits, entropy_normalized, theil, effective_entities
    from node_dispersion
    where overlay_policy <> 'proportional'
),
geography as (
    select
        'hashrate_geography' as domain, 'country' as dimension,
        'other=' || other_policy || '; source=' || source as variant,
        month as period_start, cast(last_day(month) as date) as period_end,
        null::double as sample_size, 'none (published shares)' as sample_unit,
        'hashrate_geography_concentration' as source_table, 1.0::double as coverage,
        hhi, null::double as hhi_ci_low, null::double as hhi_ci_high, nakamoto::double as nakamoto,
        null::double as nakamoto_ci_low, null::double as nakamoto_ci_high,
        tau_033::double as tau_033, tau_066::double as tau_066, cr1, cr3, cr5, gini,
        entropy_bits, entropy_normalized, theil, effective_entities
    from hashrate_geography_concentration
),
ai as (
    select
        'ai_models' as domain, dimension,
        'dataset=' || dataset || '; weighting=' || weighting
            || if(period = 'rolling_12m', '; period=rolling_12m', '') as variant,
        period_start, period_end, models::double as sample_size, 'models' as sample_unit,
        'ai_concentration' as source_table,
        (least(period_end, last_day) - period_start + 1) / (period_end - period_start + 1)
            as coverage,
        hhi, hhi_ci_low, hhi_ci_high, nakamoto::double as nakamoto,
        nakamoto_ci_low::double as nakamoto_ci_low, nakamoto_ci_high::double as nakamoto_ci_high,
        tau_033::double as tau_033, tau_066::double as tau_066, cr1, cr3, cr5, gini,
        entropy_bits, entropy_normalized, theil, effective_entities
    from ai_concentration join ai_last_day using (dataset)
    where period = 'year'
       -- rolling 12 months at each quarter's end: enough points to test recent years
       or (period = 'rolling_12m' and month(period_end) in (3, 6, 9, 12))
),
compute as (
    select
        'ai_compute' as domain, 'owner' as dimension, 'stock=median H100e' as variant,
        quarter as period_start, quarter_end as period_end, null::double as sample_size,
        'none (modelled chip stock)' as sample_unit, 'ai_compute_concentration' as source_table,
        1.0::double as coverage,
        hhi, least(hhi, hhi_low, hhi_high) as hhi_ci_low,
        greatest(hhi, hhi_low, hhi_high) as hhi_ci_high, nakamoto::double as nakamoto,
        null::double as nakamoto_ci_low, null::double as nakamoto_ci_high,
        tau_033::double as tau_033, tau_066::double as tau_066, cr1, cr3, cr5, gini,
        entropy_bits, entropy_normalized, theil, effective_entities,
        least(cr1, cr1_low, cr1_high) as cr1_ci_low, greatest(cr1, cr1_low, cr1_high) as cr1_ci_high
    from ai_compute_concentration
    where not partial  -- quarters Epoch marks incomplete would read as a fall in some owners
),
concentration as (
    select *, null::double as cr1_ci_low, null::double as cr1_ci_high from mining
    union all select *, null::double, null::double from nodes
    union all select *, null::double, null::double from geography
    union all select *, null::double, null::double from ai
    union all select * from compute
),
long as (
    select
        domain, dimension, variant, period_start, period_end, sample_size, sample_unit,
        source_table, coverage,
        unnest([
            {'metric': 'hhi', 'value': hhi, 'ci_low': hhi_ci_low, 'ci_high': hhi_ci_high},
            {'metric': 'nakamoto', 'value': nakamoto, 'ci_low': nakamoto_ci_low, 'ci_high': nakamoto_ci_high},
            {'metric': 'tau_033', 'value': tau_033, 'ci_low': null::double, 'ci_high': null::double},
            {'metric': 'tau_066', 'value': tau_066, 'ci_low': null::double, 'ci_high': null::double},
            {'metric': 'cr1', 'value': cr1, 'ci_low': cr1_ci_low, 'ci_high': cr1_ci_high},
            {'metric': 'cr3', 'value': cr3, 'ci_low': null::double, 'ci_high': null::double},
            {'metric': 'cr5', 'value': cr5, 'ci_low': null::double, 'ci_high': null::double},
            {'metric': 'gini', 'value': gini, 'ci_low': null::double, 'ci_high': null::double},
            {'metric': 'entropy_bits', 'value': entropy_bits, 'ci_low': null::double, 'ci_high': null::double},
            {'metric': 'entropy_normalized', 'value': entropy_normalized, 'ci_low': null::double, 'ci_high': null::double},
            {'metric': 'theil', 'value': theil, 'ci_low': null::double, 'ci_high': null::double},
            {'metric': 'effective_entities', 'value': effective_entities, 'ci_low': null::double, 'ci_high': null::double}
        ]) as m
    from concentration
    union all
    select
        'ai_models', 'openness', 'dataset=' || dataset, make_date(year, 1, 1),
        make_date(year, 12, 31), models_known::double, 'models', 'ai_openness',
        (least(make_date(year, 12, 31), last_day) - make_date(year, 1, 1) + 1)
            / (make_date(year, 12, 31) - make_date(year, 1, 1) + 1),
        unnest([
            {'metric': 'open_share', 'value': open_share, 'ci_low': open_share_ci_low, 'ci_high': open_share_ci_high},
            {'metric': 'compute_open_share', 'value': compute_open_share, 'ci_low': null::double, 'ci_high': null::double}
        ])
    from ai_openness join ai_last_day using (dataset)
)
select
    domain, dimension, variant, period_start, period_end, m.metric as metric, m.value as value,
    m.ci_low as ci_low, m.ci_high as ci_high,
    sample_size, sample_unit, source_table, coverage,
    coverage < (select min_coverage from settings) as partial
from long
where m.value is not null
order by domain, dimension, variant, metric, period_start
