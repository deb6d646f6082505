-- One row per quarter and owner, bounds around the median.
select quarter, owner, count(*) as rows
from ai_compute_owners
group by quarter, owner
having count(*) > 1 or bool_or(h100e_p05 > h100e + 1e-6) or bool_or(h100e_p95 < h100e - 1e-6)
