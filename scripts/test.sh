#!/usr/bin/env bash
# The whole test suite: installs the real Nacos clients the tests drive (Python venv with
# nacos-sdk-python, npm nacos, under target/clients), then checks formatting and lints, then
# runs every unit and integration test. Benchmarks are built, not run.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup-clients.sh
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
cargo bench --workspace --no-run
cargo test --workspace
