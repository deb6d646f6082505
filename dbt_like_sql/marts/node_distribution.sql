-- Nodes per entity for every snapshot (crawled, gossip or published), dimension and overlay
-- policy: country, continent, asn, organization, hosting, network, client, client_version.
-- materialized: table
-- column snapshot_date: UTC day of the snapshot
-- column snapshot_time: time of the snapshot, UTC (null for published distributions)
-- column source: configured feed
-- column reachability: 'crawled', 'gossip' (unverified) or 'published' (counts from a publisher)
-- column dimension: what the entities are
-- column overlay_policy: 'entity' (overlay networks are one entity), 'excluded' or 'proportional'
-- column entity: the country, AS, operator, client, ... ('overlay', 'unknown' where so)
-- column nodes: nodes of the entity (fractional under 'proportional')
-- column share: share of the snapshot's nodes (0-1)
with reach as (select distinct source, reachability from intermediate.nodes)
select
    d.snapshot_date, d.snapshot_time, d.source, coalesce(r.reachability, 'published') as reachability,
    d.dimension, d.overlay_policy, d.entity, d.nodes, d.share
from intermediate.node_distribution as d
left join reach as r on r.source = d.source
order by d.snapshot_time, d.source, d.dimension, d.overlay_policy, d.share desc, d.entity
