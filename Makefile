# `make test` is what CI runs (.ci/run): formatting, lints, the core/front-end boundary, tests.
.PHONY: test fmt lint boundary bench fuzz-info demo

test: fmt lint boundary
	cargo test --no-fail-fast

fmt:
	cargo fmt --all -- --check

lint:
	cargo clippy --all-targets -- -D warnings

# The core never imports the front-end crates (DESIGN.md).
boundary:
	@! grep -rlE '\b(ratatui|crossterm|clap)::' src --include=*.rs | grep -vE '^src/(tui|cli)(\.rs|/)' \
		|| (echo "core module imports a front-end crate (see above)"; exit 1)
	@! grep -rnE '\b(crate|super)::cli\b' src/tui src/tui.rs \
		|| (echo "the console imports the CLI (see above): the CLI calls the console, not back"; exit 1)

bench:
	cargo bench --bench poll
	cargo bench --bench render
	cargo bench --bench switchover

# The bulk fuzz run of the INFO byte path (10 million inputs; not part of `make test`, which runs
# the same checks on a few thousand in tests/hostile_bytes.rs).
fuzz-info:
	cargo run --release --example fuzz_info -- 10000000

demo:
	cargo run --release -- demo
