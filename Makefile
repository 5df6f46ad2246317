# The two quick-start commands: `make run` and `make test`.
.PHONY: run demo test bench bench-desktop fmt deb rehearsal reproducible-deb icons

# The desktop app on your vault (the one `pp` uses).
run:
	scripts/bootstrap
	scripts/run-app

# The command line's tour on a throwaway vault.
demo:
	scripts/bootstrap
	cargo run --release -p productivitypro-cli -- demo

# A test package: target/debug/bundle/deb/ProductivityPro_*.deb
deb:
	scripts/bootstrap
	npm ci --prefix ui --no-audit --no-fund --silent
	scripts/tauri-cli build --debug --bundles deb

test:
	scripts/test

bench:
	scripts/bootstrap --bench
	cargo bench -p productivitypro-core --bench vault
	cargo bench -p productivitypro-updater-server --bench updater
	cargo bench -p productivitypro-updater-server --bench forged_telemetry
	scripts/with-postgres cargo bench -p productivitypro-sync-server --bench sync

# Issue 7's desktop figures: the release app beside a bare Tauri window on
# Xvfb (start-up, memory, .deb and UI size, quick add, view switch).
bench-desktop:
	scripts/bench-desktop

# Issue 9's release rehearsal: throwaway keys, release .deb/.rpm, the Windows
# installer cross-built, everything signed and verified, SBOMs, a loopback
# publish, dpkg -i. Summary: target/rehearsal/summary.txt.
rehearsal:
	scripts/rehearsal

# The .deb built twice from one commit in fresh clones, compared.
reproducible-deb:
	scripts/reproducible-deb

# Every icon size from installers/icon.svg into src-tauri/icons.
icons:
	installers/generate-icons

fmt:
	cargo fmt --all
