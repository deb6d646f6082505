"""Bitcoin mining: blocks, their attribution to pools and owners."""
