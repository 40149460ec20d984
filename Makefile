# Wrench: the common actions. `make run` starts Wrench on its embedded default (SQLite and
# the search index under ./data); `make test` runs every test on SQLite and PostgreSQL.

CARGO ?= cargo
WRENCH_TEST_POSTGRES ?= postgres://postgres@127.0.0.1:5432/postgres
export WRENCH_TEST_POSTGRES

.PHONY: run test bench schema fmt lint check

run:
	$(CARGO) run --release --bin wrench -- serve

# Every storage test runs on SQLite and on PostgreSQL; fail when no PostgreSQL test ran.
test:
	rm -rf target/pg-tests-ran
	$(CARGO) build --workspace --bins
	@if $(CARGO) nextest --version >/dev/null 2>&1; then \
		$(CARGO) nextest run --workspace --no-fail-fast --test-threads 6; \
	else \
		$(CARGO) test --workspace --no-fail-fast; \
	fi
	@test -n "$$(ls target/pg-tests-ran 2>/dev/null)" || { echo "no PostgreSQL test ran: is PostgreSQL up at $(WRENCH_TEST_POSTGRES)?"; exit 1; }
	@echo "PostgreSQL tests ran: $$(ls target/pg-tests-ran | wc -l)"

# Benchmarks: a harness (not timed tests) that writes JSON under target/bench/ and prints a table.
bench:
	$(CARGO) build --release --workspace --bins
	$(CARGO) bench --bench wrench_bench -- $(BENCH)

schema:
	$(CARGO) run -q --bin wrench -- schema > schema.graphql

fmt:
	$(CARGO) fmt --all

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

check: lint test
