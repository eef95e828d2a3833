"""Adapters to the outside world (stores, indexes, models, web) behind small Protocols."""
