//! No library: the tests in `tests/updater_client.rs` run the real
//! tauri-plugin-updater (in a `tauri::test` mock app) against the real
//! `productivitypro-updater-server`, started in-process on loopback.
