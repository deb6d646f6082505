"""Market data (price, hashrate, fees, issuance) and where hashrate sits by country."""
