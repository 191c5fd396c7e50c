"""Shared core of funnel: table catalog, Delta reads and writes, ledger, landing, SQL access.

Depends on no other part of the project; every other part may depend on it.
"""
