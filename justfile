# orbflow tasks. `just --list` shows them.

set shell := ["bash", "-euo", "pipefail", "-c"]

# Format the code.
fmt:
    cargo fmt --all

# Format check and clippy with warnings as errors (what CI runs).
lint:
    cargo fmt --all --check
    cargo clippy --workspace --all-targets --locked -- -D warnings

# The test suite (the README's command); Postgres tests need ORBFLOW_TEST_DATABASE_URL.
test:
    cargo test --workspace --locked

# The test suite with the machine's Postgres.
test-fleet:
    ORBFLOW_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test ORBFLOW_TEST_REDIS_URL=redis://127.0.0.1:6379 cargo test --workspace --locked

# The same tests under cargo-nextest (faster, per-test processes).
test-nextest:
    cargo nextest run --workspace --locked

# The end-to-end suites (tests/: orbflow processes over the machine's Postgres and Redis),
# with the orbflow binary they spawn built first.
e2e:
    cargo build --locked -p orbflow-cli --bin orbflow
    ORBFLOW_TEST_DATABASE_URL=${ORBFLOW_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test} ORBFLOW_TEST_REDIS_URL=${ORBFLOW_TEST_REDIS_URL:-redis://127.0.0.1:6379} cargo test --locked -p orbflow-e2e

# Issue 10's acceptance benchmark (docs/BENCHMARKS.md): every workload on the embedded
# default, the fleet (Postgres + Redis, 1, 2 and 4 release-built workers) and BullMQ (on a
# redis-server of its own), in one run; prints one markdown table with orbflow / BullMQ
# ratios, SQL statements per step and the machine's limits. ORBFLOW_BENCH=chain,loop,...
# selects workloads, ORBFLOW_BENCH_WORKERS=1,2,4 the fleet sizes, ORBFLOW_BENCH_TIMEOUT_SECS
# the timeout per workload. (The embedded bench alone: cargo bench -p orbflow-worker --bench embedded.)
bench:
    cd bench/bullmq && npm ci --no-audit --no-fund >&2
    ORBFLOW_TEST_DATABASE_URL=${ORBFLOW_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test} ORBFLOW_TEST_REDIS_URL=${ORBFLOW_TEST_REDIS_URL:-redis://127.0.0.1:6379} cargo bench --locked -p orbflow-cli --bench fleet

# A longer fuzz run of the parser and validator.
fuzz cases="20000":
    ORBFLOW_FUZZ_CASES={{cases}} cargo test --release -p orbflow-model --test fuzz

# Coverage of the whole workspace as CI measures it, with its floors (.ci/coverage.toml);
# needs Postgres and Redis in ORBFLOW_TEST_DATABASE_URL / ORBFLOW_TEST_REDIS_URL for the fleet tests.
cov:
    bash .ci/coverage.sh

# Regenerate the generated docs (schema, action catalog).
docs:
    ORBFLOW_UPDATE_DOCS=1 cargo test -p orbflow-model --test schema_drift
    ORBFLOW_UPDATE_DOCS=1 cargo test -p orbflow-actions --test docs_drift
    ORBFLOW_UPDATE_DOCS=1 cargo test -p orbflow-api --test openapi_drift

# Validate and draw every example.
examples:
    cargo run --release -- validate examples/*.yaml
    for f in examples/*.yaml; do cargo run -q --release -- graph "$f" > /dev/null; done

# Property-based tests of the HTTP API against its OpenAPI document (schemathesis from PyPI).
schemathesis examples="25":
    cargo build -p orbflow-cli
    bash .ci/schemathesis.sh "${CARGO_TARGET_DIR:-target}/debug/orbflow" {{examples}}

# Everything CI does.
ci:
    bash .ci/run
