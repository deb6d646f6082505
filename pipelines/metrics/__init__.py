"""Concentration metrics shared by every domain (mining, nodes, hashrate geography, AI)."""
