# `make test` is what CI runs (.ci/run): formatting, the core/front-end boundary, the test
# layout, one build of every target with clippy's lints on (warnings are errors), the tests.
.PHONY: test fmt lint boundary layout bench fuzz-info demo deps smoke

# Clippy's lints run inside the build the tests run from: cargo hands our own targets (never the
# dependencies) to clippy's driver, which is what `cargo clippy` does in a check build. So the
# crate and its dependencies are compiled once, instead of once to lint and again to test. The
# same variables on both commands keep cargo from rebuilding between them.
LINTED := RUSTC_WORKSPACE_WRAPPER=clippy-driver CLIPPY_ARGS=-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__

test: deps fmt boundary layout
	$(LINTED) cargo test --all-targets --no-run
	$(LINTED) cargo test --no-fail-fast

# The smoke suite alone (status, both switchovers, snapshot download, promote, rejoin), on the
# server REDOPS_SERVER_BIN names; .ci/run runs it on Redis 6.2 and Valkey 9.1 after `make test`.
smoke:
	$(LINTED) cargo test --test cli smoke::

fmt:
	cargo fmt --all -- --check

# The same lints on their own (a check build, no tests).
lint:
	cargo clippy --all-targets -- -D warnings

# The core never imports the front-end crates (DESIGN.md).
boundary:
	@! grep -rlE '\b(ratatui|crossterm|clap|indicatif)::' src --include=*.rs | grep -vE '^src/(tui|cli)(\.rs|/)' \
		|| (echo "core module imports a front-end crate (see above)"; exit 1)
	@! grep -rnE '\b(crate|super)::cli\b' src/tui src/tui.rs \
		|| (echo "the console imports the CLI (see above): the CLI calls the console, not back"; exit 1)

# Integration tests are modules of the binaries in tests/<binary>/main.rs: a file directly in
# tests/ would be linked as one more test binary.
layout:
	@! ls tests/*.rs 2>/dev/null \
		|| (echo "a file in tests/ is a test binary of its own: make it a module of one of tests/*/main.rs"; exit 1)

bench:
	cargo bench --bench poll
	cargo bench --bench render
	cargo bench --bench switchover
	cargo bench --bench cluster_switchover
	cargo bench --bench backups
	cargo bench --bench restore
	cargo bench --bench sentinel

# The bulk fuzz run of the INFO byte path (10 million inputs; not part of `make test`, which runs
# the same checks on a few thousand in tests/cli/hostile_bytes.rs).
fuzz-info:
	cargo run --release --example fuzz_info -- 10000000

demo: deps
	cargo run --release -- demo

# What the tests and the demo need beyond Rust (redis-server, redis-tools, openssl): installed
# with apt-get when run as root, else one line saying exactly what to run (.ci/deps).
deps:
	@.ci/deps
