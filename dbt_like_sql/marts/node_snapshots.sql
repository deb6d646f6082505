-- Every Bitcoin node of every snapshot, one row per node, with location and AS filled in offline
-- where the source lacked them. reachability = 'gossip' marks unverified address lists.
-- materialized: view
select
    snapshot_date, snapshot_time, source, reachability, address, port, network,
    protocol_version, user_agent, services, height, city, country_code, latitude, longitude,
    asn, organization, location_source, asn_source
from intermediate.nodes
order by snapshot_time, source, address, port
