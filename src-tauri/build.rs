//! Generates the Tauri context and an app manifest, so every app command
//! below gets an `allow-<command>` permission and is permission-checked
//! like plugin commands (the capability in `capabilities/` grants them).
//!
//! Also builds in the updater's public key: `installers/updater/public-key`
//! when that file exists, else `UPDATER_PUBLIC_KEY` from the build's
//! environment (base64 of the minisign `.pub` text, as `pprelease keygen`
//! prints it; the `.pub` text itself is accepted too). Without either the
//! app is built with none (`UPDATER_PUBLIC_KEY` empty for `env!`) and
//! in-app updates are `unavailable`: never an empty key.

use base64::Engine as _;

/// Every `#[tauri::command]` the UI may call: `NAMES`, shared with the app.
mod names {
    include!("src/commands/names.rs");
}

/// The key in Tauri's `pubkey` form (base64 of the `.pub` text), or a
/// build failure naming what is wrong: a malformed key must not ship.
fn updater_public_key() -> Option<String> {
    let file = std::path::Path::new("../installers/updater/public-key");
    println!("cargo:rerun-if-changed={}", file.display());
    println!("cargo:rerun-if-env-changed=UPDATER_PUBLIC_KEY");
    let (text, from) = match std::fs::read_to_string(file) {
        Ok(t) => (t, file.display().to_string()),
        Err(_) => (
            std::env::var("UPDATER_PUBLIC_KEY").unwrap_or_default(),
            "UPDATER_PUBLIC_KEY".to_string(),
        ),
    };
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    let b64 = base64::engine::general_purpose::STANDARD;
    let pub_text = if text.starts_with("untrusted comment:") {
        text.to_string()
    } else {
        let bytes = b64
            .decode(text)
            .unwrap_or_else(|_| panic!("{from}: not base64 of a minisign public key"));
        String::from_utf8(bytes).unwrap_or_else(|_| panic!("{from}: not a minisign public key"))
    };
    // The `.pub` text: a comment line, then base64 of "Ed" + key id + key.
    let key_line = pub_text
        .lines()
        .nth(1)
        .unwrap_or_else(|| panic!("{from}: a minisign public key has two lines"));
    let key = b64
        .decode(key_line.trim())
        .unwrap_or_else(|_| panic!("{from}: the key line is not base64"));
    assert!(
        pub_text.starts_with("untrusted comment:") && key.len() == 42 && key.starts_with(b"Ed"),
        "{from}: not a minisign Ed25519 public key"
    );
    if text.starts_with("untrusted comment:") {
        Some(b64.encode(format!("{}\n", pub_text.trim_end())))
    } else {
        Some(text.to_string())
    }
}

fn main() {
    // Once a build script names any file to watch, Cargo watches only those.
    println!("cargo:rerun-if-changed=src/commands/names.rs");
    match updater_public_key() {
        Some(key) => println!("cargo:rustc-env=PRODUCTIVITYPRO_UPDATER_PUBKEY={key}"),
        None => println!("cargo:rustc-env=PRODUCTIVITYPRO_UPDATER_PUBKEY="),
    }
    tauri_build::try_build(
        tauri_build::Attributes::new()
            .app_manifest(tauri_build::AppManifest::new().commands(names::NAMES)),
    )
    .expect("tauri build script failed");
}
