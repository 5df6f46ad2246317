# The two quick-start commands: `make run` and `make test`.
.PHONY: run test bench fmt

run:
	scripts/bootstrap
	cargo run --release -p productivitypro-cli -- demo

test:
	scripts/test

bench:
	scripts/bootstrap --bench
	cargo bench -p productivitypro-core --bench vault
	cargo bench -p productivitypro-updater-server --bench updater
	cargo bench -p productivitypro-updater-server --bench forged_telemetry
	scripts/with-postgres cargo bench -p productivitypro-sync-server --bench sync

fmt:
	cargo fmt --all
