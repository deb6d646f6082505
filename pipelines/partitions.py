"""Partitions shared by the daily assets."""

import dagster as dg

# One partition per UTC day, from the genesis block to yesterday (today is never complete).
DAILY = dg.DailyPartitionsDefinition(start_date="2009-01-03", timezone="UTC", end_offset=0)
