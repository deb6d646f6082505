-- Metrics and the scenario range stay in their ranges.
select quarter
from ai_compute_concentration
where hhi < 10000.0 / entities - 1e-6 or hhi > 10000 + 1e-6
   or hhi_low < 0 or hhi_high > 10000 + 1e-6 or hhi_low > hhi_high
   or cr1 > cr3 + 1e-12 or cr3 > cr5 + 1e-12 or cr5 > 1 + 1e-12
   or cr1_low > cr1_high
