"""Migration from a legacy CIS: the extract format (docs/migration.md), its validation, a restartable
load, and the parallel billing run that compares migrated accounts' bills with the legacy bills."""
