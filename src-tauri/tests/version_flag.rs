//! `productivitypro --version` as installers and packagers run it: on a
//! machine with no display and an empty home, it prints the version and
//! exits 0 without creating anything (no vault, no log, no config, no
//! window-state file) — so a post-install check can never touch a vault.

use std::path::Path;
use std::process::Command;

fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        out.push(e.path().display().to_string());
        if e.path().is_dir() {
            out.extend(files_under(&e.path()));
        }
    }
    out
}

#[test]
fn version_prints_and_exits_without_display_or_vault() {
    let home = tempfile::tempdir().unwrap();
    for flag in ["--version", "-V"] {
        let out = Command::new(env!("CARGO_BIN_EXE_productivitypro"))
            .arg(flag)
            .env_clear()
            .env("HOME", home.path())
            .env("XDG_DATA_HOME", home.path().join("data"))
            .env("XDG_CONFIG_HOME", home.path().join("config"))
            .env("PRODUCTIVITYPRO_DATA_DIR", home.path().join("vault"))
            .output()
            .unwrap();
        assert!(out.status.success(), "{flag}: {out:?}");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            format!("productivitypro {}\n", env!("CARGO_PKG_VERSION"))
        );
        assert!(out.stderr.is_empty(), "{flag}: {out:?}");
    }
    assert_eq!(files_under(home.path()), Vec::<String>::new());
}

/// `--check-update` / `--install-update` in a build without an updater key
/// (every debug build): one JSON line saying `unavailable`, exit 1, nothing
/// started or written (no display needed).
#[test]
fn update_flags_without_a_key_say_unavailable() {
    let home = tempfile::tempdir().unwrap();
    for flag in ["--check-update", "--install-update"] {
        let out = Command::new(env!("CARGO_BIN_EXE_productivitypro"))
            .args([flag, "--update-channel=beta"])
            .env_clear()
            .env("HOME", home.path())
            .env("XDG_DATA_HOME", home.path().join("data"))
            .env("XDG_CONFIG_HOME", home.path().join("config"))
            .env("PRODUCTIVITYPRO_DATA_DIR", home.path().join("vault"))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{flag}: {out:?}");
        let line: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(line["result"], "unavailable", "{line}");
        assert_eq!(line["code"], "update_unavailable");
        assert_eq!(line["channel"], "beta");
        assert_eq!(line["current"], env!("CARGO_PKG_VERSION"));
    }
    let out = Command::new(env!("CARGO_BIN_EXE_productivitypro"))
        .args(["--check-update", "--update-channel=nightly"])
        .env_clear()
        .env("HOME", home.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nightly"));
    assert_eq!(files_under(home.path()), Vec::<String>::new());
}
