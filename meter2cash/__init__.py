"""meter2cash: the meter-to-cash core of a utility CIS (application glue: settings, CLI)."""
