"""Customer records over time: customers, accounts, premises (and, as they arrive, service points,
meter installations and agreements) and the workflows that change them. Each workflow checks its
rules here, writes through ``storage`` and records who did it and why."""
