-- Metrics stay in their ranges, and every row has models behind it.
select dataset, dimension, weighting, period, period_start
from ai_concentration
where models < 1 or entities < 1
   or hhi < 10000.0 / entities - 1e-6 or hhi > 10000 + 1e-6
   or nakamoto < 1 or nakamoto > entities
   or cr1 > cr3 + 1e-12 or cr3 > cr5 + 1e-12 or cr5 > 1 + 1e-12
   or unknown_share < 0 or unknown_share > 1 + 1e-12
