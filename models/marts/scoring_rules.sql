-- marts.scoring_rules — the (example) scoring configuration behind marts.county_scorecard,
-- published so readers of the warehouse file see the targets.
select
    indicator_code,
    direction,
    target,
    floor,
    weight,
    target_source,
    note
from {{ ref('scoring_configuration') }}
