-- How concentrated Bitcoin's nodes are, per snapshot, dimension and overlay policy: the same
-- metric set as mining, the overlay and unknown shares, and (country rows) the spatial spread.
-- materialized: table
-- column reachability: 'crawled', 'gossip' (unverified) or 'published'
with reach as (select distinct source, reachability from intermediate.nodes)
select
    d.snapshot_date, d.snapshot_time, d.source, coalesce(r.reachability, 'published') as reachability,
    d.dimension, d.overlay_policy, d.nodes, d.entities, d.hhi, d.nakamoto, d.tau_033, d.tau_066,
    d.cr1, d.cr3, d.cr5, d.gini, d.entropy_bits, d.entropy_normalized, d.theil,
    d.effective_entities, d.overlay_share, d.unknown_share, d.located_nodes,
    d.standard_distance_km, d.mean_pairwise_km, d.mean_pairwise_se_km
from intermediate.node_dispersion as d
left join reach as r on r.source = d.source
order by d.snapshot_time, d.source, d.dimension, d.overlay_policy
