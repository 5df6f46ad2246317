# The two quick-start commands: `make run` and `make test`.
.PHONY: run test bench fmt

run:
	scripts/bootstrap
	cargo run --release -p productivitypro-cli -- demo

test:
	scripts/test

bench:
	cargo bench -p productivitypro-core --bench vault

fmt:
	cargo fmt --all
