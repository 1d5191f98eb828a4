"""Settings and the project's root error: the base every package may import."""
