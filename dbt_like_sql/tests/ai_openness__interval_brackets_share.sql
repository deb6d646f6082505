-- Open models are among the models of known accessibility, and the Wilson interval brackets
-- the open share.
select year, dataset, open_share, open_share_ci_low, open_share_ci_high
from ai_openness
where open_models > models_known or models_known > models
   or open_share < open_share_ci_low - 1e-12 or open_share > open_share_ci_high + 1e-12
   or compute_open_share < 0 or compute_open_share > 1 + 1e-12
