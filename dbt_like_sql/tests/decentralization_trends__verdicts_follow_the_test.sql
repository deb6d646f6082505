-- Verdicts are one of three, a significant verdict has a p-value, and p-values are probabilities.
select domain, dimension, variant, metric, span, verdict, p_value
from decentralization_trends
where verdict not in ('centralizing', 'decentralizing', 'no significant trend')
   or (verdict <> 'no significant trend' and p_value is null)
   or p_value < 0 or p_value > 1 or p_value_independent < 0 or p_value_independent > 1
   or points < 1
