-- How concentrated Bitcoin's nodes are, per snapshot, dimension and overlay policy: the same
-- metric set as mining, the overlay and unknown shares, and (country rows) the spatial spread.
-- materialized: table
-- column snapshot_date: UTC day of the snapshot
-- column snapshot_time: time of the snapshot, UTC
-- column source: configured feed
-- column reachability: 'crawled', 'gossip' (unverified) or 'published'
-- column dimension: country, continent, asn, organization, hosting, network, client, client_version
-- column overlay_policy: 'entity', 'excluded' or 'proportional' (same shares as excluded)
-- column nodes: nodes counted
-- column entities: entities with at least one node
-- column hhi: Herfindahl-Hirschman index, 0-10,000
-- column nakamoto: fewest entities holding at least 50% of nodes
-- column tau_033: fewest entities holding at least 33% of nodes
-- column tau_066: fewest entities holding at least 66% of nodes
-- column cr1: share of the largest entity
-- column cr3: share of the three largest entities
-- column cr5: share of the five largest entities
-- column gini: Gini coefficient over entities
-- column entropy_bits: Shannon entropy of shares, bits
-- column entropy_normalized: entropy / log2(entities)
-- column theil: Theil T index
-- column effective_entities: 1 / sum of squared shares
-- column overlay_share: share of overlay-network nodes (Tor, I2P, CJDNS) in the snapshot
-- column unknown_share: share of nodes whose entity is unknown
-- column located_nodes: nodes with coordinates (country rows)
-- column standard_distance_km: root mean square great-circle distance to the centroid, km
-- column mean_pairwise_km: mean great-circle distance between node pairs, km
-- column mean_pairwise_se_km: standard error of mean_pairwise_km (0 when computed exactly)
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
