"""Running and test-driving a simulated utility: the demo, the scenario harness, the local mail sink."""
