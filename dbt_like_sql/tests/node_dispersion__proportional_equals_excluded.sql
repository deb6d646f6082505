-- Redistributing overlay nodes in proportion leaves every share, so every metric, as excluded.
select p.snapshot_date, p.source, p.dimension, p.hhi, e.hhi as excluded_hhi
from node_dispersion as p
join node_dispersion as e
  on e.snapshot_date = p.snapshot_date
 and e.snapshot_time is not distinct from p.snapshot_time
 and e.source = p.source and e.dimension = p.dimension
 and e.overlay_policy = 'excluded'
where p.overlay_policy = 'proportional' and abs(p.hhi - e.hhi) > 1e-6
