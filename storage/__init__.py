"""PostgreSQL schema and repositories, the Redis estimate cache, TimescaleDB detection."""
