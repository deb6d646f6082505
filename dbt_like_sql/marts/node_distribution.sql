-- Nodes per entity for every snapshot (crawled, gossip or published), dimension and overlay
-- policy: country, continent, asn, organization, hosting, network, client, client_version.
-- materialized: table
-- column reachability: 'crawled', 'gossip' (unverified) or 'published' (counts from a publisher)
with reach as (select distinct source, reachability from intermediate.nodes)
select
    d.snapshot_date, d.snapshot_time, d.source, coalesce(r.reachability, 'published') as reachability,
    d.dimension, d.overlay_policy, d.entity, d.nodes, d.share
from intermediate.node_distribution as d
left join reach as r on r.source = d.source
order by d.snapshot_time, d.source, d.dimension, d.overlay_policy, d.share desc, d.entity
