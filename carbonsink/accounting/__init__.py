"""Accounting: carbon pools, stock change, non-CO2 gases, methodology profiles and credits."""
