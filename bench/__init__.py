"""Benchmarks and the load-testing toolkit, installed as `smsc.bench` (see setup.py)."""
