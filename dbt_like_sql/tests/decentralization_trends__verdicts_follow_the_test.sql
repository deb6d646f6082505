-- Verdicts are one of three; a significant verdict has q_value <= its family's threshold, so it has
-- a q-value; p- and q-values are probabilities, q >= p (Benjamini–Hochberg only raises them);
-- the autocorrelation correction only widens Var(S) (variance_factor >= 1, p >= the plain p);
-- within a family (domain, span) a smaller p never has a larger q, and family_size counts the
-- family's tested series.
with families as (
    select domain, span, count(p_value) as tested from decentralization_trends group by all
),
ordered as (
    select *, max(q_value) over (
        partition by domain, span order by p_value rows between unbounded preceding and current row
    ) as q_so_far
    from decentralization_trends
    where p_value is not null
)
select t.domain, t.dimension, t.variant, t.metric, t.span, t.verdict, t.p_value, 'invalid row' as problem
from decentralization_trends t
join families f using (domain, span)
where t.verdict not in ('centralizing', 'decentralizing', 'no significant trend')
   or t.verdict_unadjusted not in ('centralizing', 'decentralizing', 'no significant trend')
   or (t.verdict <> 'no significant trend' and t.q_value is null)
   or (t.verdict_unadjusted <> 'no significant trend' and t.p_value is null)
   or t.p_value < 0 or t.p_value > 1 or t.p_value_independent < 0 or t.p_value_independent > 1
   or t.q_value > 1 or t.q_value < t.p_value - 1e-12
   or t.variance_factor < 1 or t.p_value < t.p_value_independent - 1e-12
   or (t.p_value is null) <> (t.q_value is null)
   or (t.p_value is not null and t.family_size <> f.tested)
   or (t.p_value is null and t.family_size is not null)
   or t.points < 1
union all
select domain, dimension, variant, metric, span, verdict, p_value, 'q not monotone in p'
from ordered
where q_value < q_so_far - 1e-12
