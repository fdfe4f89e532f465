"""Misuse rules: pure functions over a license's recent history that return findings with evidence.

Nothing here reads a database: a service builds a ``LicenseHistory`` and passes it in, so
the same rules run in the scan, in a backtest and in tests. Rules compare values within one
license and count distinct values, so they decide the same on raw and pseudonymised data.
"""
