"""Validation, estimation and editing of meter reads."""
