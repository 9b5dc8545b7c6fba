# `make test` is what CI runs (.ci/run): formatting, lints, the core/front-end boundary, tests.
.PHONY: test fmt lint boundary bench demo

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

bench:
	cargo bench --bench poll
	cargo bench --bench render
	cargo bench --bench switchover

demo:
	cargo run --release -- demo
