"""Stages: small steps that take an iterator of records and yield records, counting drops."""
