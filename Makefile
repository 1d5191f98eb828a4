# meter2cash: `make demo` runs the main job, `make test` runs the whole suite.
# Both set up everything they need on a fresh Debian 12 machine (venv, packages, services).
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: setup services services-down demo lint test test-faults test-unit test-integration bench-ingest bench-bill-run bench-importers compose-check clean

setup:
	bash scripts/setup.sh

services: setup
	bash scripts/services.sh up

services-down:
	bash scripts/services.sh down

demo: services
	$(BIN)/m2c demo

lint: setup
	$(BIN)/python -m pyflakes config meterdata vee cis migration scenarios meter2cash rating storage streams billing portal simulators benchmarks tests deploy scripts

test: services lint
	$(BIN)/pytest -q -m "not faults"

# the fault-injection suite: kills, outages, replays and hostile input against a clean run of one load;
# writes benchmarks/results/faults.json
test-faults: services
	$(BIN)/pytest -q -m faults tests/faults

test-unit: setup
	$(BIN)/pytest -q tests/unit

test-integration: services
	$(BIN)/pytest -q tests/integration tests/e2e

bench-ingest: services
	$(BIN)/python benchmarks/ingest.py

bench-bill-run: services
	$(BIN)/python benchmarks/bill_run.py

bench-importers: services
	$(BIN)/python benchmarks/importers.py

compose-check:
	docker-compose -f docker-compose.yml config -q

clean:
	rm -rf $(VENV) deploy/kafka/target
