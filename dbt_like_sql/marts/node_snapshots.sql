-- Every Bitcoin node of every snapshot, one row per node, with location and AS filled in offline
-- where the source lacked them. reachability = 'gossip' marks unverified address lists.
-- materialized: table
-- column snapshot_date: UTC day of the snapshot
-- column snapshot_time: time the snapshot was taken, UTC
-- column source: configured feed
-- column reachability: 'crawled' (reached by a crawler) or 'gossip' (unverified address list)
-- column address: IP or overlay address
-- column port: port
-- column network: ipv4, ipv6, onion, i2p or cjdns
-- column protocol_version: P2P protocol version
-- column user_agent: user agent, e.g. /Satoshi:27.0.0/
-- column services: service bits
-- column height: best block height the node announced
-- column city: city, where known
-- column country_code: ISO 3166 alpha-2 country, where known
-- column latitude: latitude (null for overlay networks and unknown locations)
-- column longitude: longitude
-- column asn: autonomous system number
-- column organization: organisation operating the AS
-- column location_source: where the location came from ('source' or an offline database)
-- column asn_source: where the AS came from ('source', 'asmap' or an offline database)
select
    snapshot_date, snapshot_time, source, reachability, address, port, network,
    protocol_version, user_agent, services, height, city, country_code, latitude, longitude,
    asn, organization, location_source, asn_source
from intermediate.nodes
order by snapshot_time, source, address, port
