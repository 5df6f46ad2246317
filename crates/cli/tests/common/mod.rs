#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

pub const KEYRING_SERVICE: &str = "ProductivityPro-cli-test";

/// `pp` with a clean environment: no inherited vault, secrets or zone.
pub fn pp(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_pp"));
    c.arg("--data-dir")
        .arg(dir)
        .env_remove("PRODUCTIVITYPRO_DATA_DIR")
        .env_remove("PRODUCTIVITYPRO_PASSPHRASE")
        .env_remove("PRODUCTIVITYPRO_RECOVERY_KEY")
        .env_remove("PRODUCTIVITYPRO_NEW_PASSPHRASE")
        .env("PRODUCTIVITYPRO_KEYRING_SERVICE", KEYRING_SERVICE)
        .env("PRODUCTIVITYPRO_TZ", "Europe/Berlin");
    c
}

pub struct Run {
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
}

pub fn run(cmd: &mut Command) -> Run {
    let Output {
        status,
        stdout,
        stderr,
    } = cmd.output().expect("pp runs");
    Run {
        ok: status.success(),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}

/// Runs and insists on success, showing pp's stderr otherwise.
pub fn ok(cmd: &mut Command) -> String {
    let r = run(cmd);
    assert!(r.ok, "pp failed:\n{}\n{}", r.stdout, r.stderr);
    r.stdout
}

/// Runs and insists on failure with the given error code.
pub fn fails_with(cmd: &mut Command, code: &str) -> String {
    let r = run(cmd);
    assert!(!r.ok, "pp unexpectedly succeeded:\n{}", r.stdout);
    assert!(
        r.stderr.contains(&format!("pp: code: {code}")),
        "expected code {code}, got:\n{}",
        r.stderr
    );
    r.stderr
}

/// The recovery key block printed by `init` / `recovery-key`.
pub fn recovery_key_from(stdout: &str) -> String {
    let lines: Vec<&str> = stdout
        .lines()
        .map(str::trim)
        .filter(|l| l.len() >= 30 && l.split('-').all(|g| g.len() == 4))
        .collect();
    assert_eq!(lines.len(), 2, "no recovery key in:\n{stdout}");
    lines.join("-")
}

pub fn json(stdout: &str) -> serde_json::Value {
    serde_json::from_str(stdout).unwrap_or_else(|e| panic!("not JSON ({e}):\n{stdout}"))
}
