-- S05 per county x period: discharges at the county's county-level hospitals whose 离院方式 is
-- a downward referral / all their discharges (int_discharges__by_facility).
{{ summed_indicator('S05') }}
