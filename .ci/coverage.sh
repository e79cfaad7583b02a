#!/usr/bin/env bash
# Workspace coverage: every test (Postgres and Redis ones too, with
# ORBFLOW_TEST_DATABASE_URL / ORBFLOW_TEST_REDIS_URL set) under cargo llvm-cov,
# the orbflow processes the tests spawn included (they inherit the profile
# settings and write their profiles when they exit). Prints the summary per
# file, then per crate, and fails under a floor of .ci/coverage.toml.
# Used by .ci/run and `just cov`.
set -euo pipefail
cd "$(dirname "$0")/.."

rustup component add llvm-tools-preview >/dev/null
cargo llvm-cov --version >/dev/null 2>&1 || cargo install cargo-llvm-cov --locked
# not counted: test code (crate tests, the top-level tests/ member and the
# orbflow-testkit harness), benches, and the generated SeaORM entities
COVERAGE_IGNORE='(/tests?/|/benches/|crates/testkit/|crates/store/src/entity/)'
# stale profiles of an earlier run would count
cargo llvm-cov clean --workspace
cargo llvm-cov --workspace --locked --no-report
cargo llvm-cov report --summary-only --ignore-filename-regex "$COVERAGE_IGNORE"
cargo llvm-cov report --json --summary-only --ignore-filename-regex "$COVERAGE_IGNORE" \
  | python3 .ci/coverage.py .ci/coverage.toml "$PWD"
