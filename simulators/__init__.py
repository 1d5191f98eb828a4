"""Seeded simulators: a synthetic utility, its AMI head-end, fault injection."""
