//! First run, recovery-key confirmation, locking and every way to unlock,
//! against a real vault file and the real keyring, through IPC.

mod common;

use common::{require_keyring, run_ok, Harness, KEYRING_SERVICE, PASS};
use serde_json::{json, Value};

#[test]
fn first_run_confirm_lock_and_unlock_every_way() {
    require_keyring();
    let h = Harness::new();
    let st = h.ok("app_status", json!({}));
    assert_eq!(st["vault"], "missing");
    assert_eq!(st["slots"], Value::Null);
    assert_eq!(st["vaultDir"], h.vault_dir().display().to_string());
    assert_eq!(h.err("vault_snapshot", json!({})), "vault_locked");
    assert_eq!(
        h.err("vault_create", json!({ "passphrase": "" })),
        "empty_passphrase"
    );

    let c = h.ok("vault_create", json!({ "passphrase": PASS }));
    let key = c["recoveryKey"].as_str().unwrap().to_string();
    assert_eq!(key.split('-').count(), 14, "{key}");
    assert_eq!(c["keyringError"], Value::Null);
    assert_eq!(
        h.err("vault_create", json!({ "passphrase": null })),
        "vault_exists"
    );

    // "I saved it": two different groups, typed back.
    let g: Vec<&str> = key.split('-').collect();
    let one = json!({ "answers": [{ "group": 1, "text": g[0] }] });
    assert_eq!(h.err("vault_confirm_recovery", one), "invalid_argument");
    let same = json!({ "answers": [{ "group": 1, "text": g[0] }, { "group": 1, "text": g[0] }] });
    assert_eq!(h.err("vault_confirm_recovery", same), "invalid_argument");
    let wrong = json!({ "answers": [{ "group": 1, "text": g[0] }, { "group": 2, "text": g[0] }] });
    assert_eq!(
        h.ok("vault_confirm_recovery", wrong),
        json!({ "ok": false })
    );
    let out_of_range =
        json!({ "answers": [{ "group": 1, "text": g[0] }, { "group": 15, "text": "AAAA" }] });
    assert_eq!(
        h.ok("vault_confirm_recovery", out_of_range),
        json!({ "ok": false })
    );

    // Saved to a file the user picked: the key, readable by the user only.
    let file = h.config.path().join("recovery-key.txt");
    h.ok("recovery_key_save", json!({ "path": file }));
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains(&key));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let sloppy = json!({ "answers": [
        { "group": 3, "text": g[2].to_lowercase() },
        { "group": 14, "text": format!(" {} ", g[13]) },
    ]});
    assert_eq!(
        h.ok("vault_confirm_recovery", sloppy),
        json!({ "ok": true })
    );
    // Confirmed: the key is gone from memory.
    let again = json!({ "answers": [{ "group": 1, "text": g[0] }, { "group": 2, "text": g[1] }] });
    assert_eq!(
        h.err("vault_confirm_recovery", again),
        "no_pending_recovery_key"
    );
    assert_eq!(
        h.err("recovery_key_save", json!({ "path": file })),
        "no_pending_recovery_key"
    );

    let st = h.ok("app_status", json!({}));
    assert_eq!(st["vault"], "unlocked");
    let kinds: Vec<&str> = st["slots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["keyring", "passphrase", "recovery"]);
    h.add("Marker task");

    // Lock on demand: the UI is told, and nothing can be read.
    h.ok("vault_lock", json!({}));
    assert_eq!(
        h.wait_event("vault://locked", 0),
        json!({ "reason": "user" })
    );
    assert_eq!(h.err("vault_snapshot", json!({})), "vault_locked");
    assert_eq!(h.err("task_add", json!({ "text": "x" })), "vault_locked");
    let st = h.ok("app_status", json!({}));
    assert_eq!(st["vault"], "locked");
    assert_eq!(
        st["slots"].as_array().unwrap().len(),
        3,
        "slots readable while locked"
    );

    let titles = |_unlocked: &Value| -> Vec<String> {
        h.all_tasks()
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["title"].as_str().unwrap().to_string())
            .collect()
    };
    let snap = h.ok("vault_unlock", json!({ "method": "keyring" }));
    assert_eq!(titles(&snap), ["Marker task"]);
    h.ok("vault_lock", json!({}));

    assert_eq!(
        h.err(
            "vault_unlock",
            json!({ "method": "passphrase", "secret": "nope" })
        ),
        "wrong_passphrase"
    );
    assert_eq!(
        h.err("vault_unlock", json!({ "method": "passphrase" })),
        "invalid_argument"
    );
    let snap = h.ok(
        "vault_unlock",
        json!({ "method": "passphrase", "secret": PASS }),
    );
    assert_eq!(titles(&snap), ["Marker task"]);
    h.ok("vault_lock", json!({}));

    let mut typo: Vec<char> = key.chars().collect();
    typo[0] = if typo[0] == 'A' { 'B' } else { 'A' };
    let typo: String = typo.into_iter().collect();
    assert_eq!(
        h.err(
            "vault_unlock",
            json!({ "method": "recoveryKey", "secret": typo })
        ),
        "recovery_key_mistyped"
    );
    // A well-formed key of another vault.
    let other = Harness::new();
    let other_key = other.create();
    assert_eq!(
        h.err(
            "vault_unlock",
            json!({ "method": "recoveryKey", "secret": other_key })
        ),
        "wrong_recovery_key"
    );
    let snap = h.ok(
        "vault_unlock",
        json!({ "method": "recoveryKey", "secret": key.to_lowercase() }),
    );
    assert_eq!(titles(&snap), ["Marker task"]);
    // Unlocking an unlocked vault is harmless.
    h.ok("vault_unlock", json!({ "method": "keyring" }));
    assert_eq!(
        h.err("vault_unlock", json!({ "method": "fingerprint" })),
        "invalid_argument"
    );
}

#[test]
fn a_keyring_entry_that_went_missing_is_put_back_after_a_passphrase_unlock() {
    require_keyring();
    let h = Harness::new();
    h.create();
    let status: Value =
        serde_json::from_str(&run_ok(h.pp().args(["vault", "status", "--json"]))).unwrap();
    // The entry's name is stored with its slot (`vault-<id>-<random>`).
    let account = status["slots"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|s| s["keyring_account"].as_str())
        .expect("a keyring slot names its entry")
        .to_string();
    h.ok("vault_lock", json!({}));

    // The login keyring lost the entry (new machine, wiped keyring).
    keyring::Entry::new(KEYRING_SERVICE, &account)
        .unwrap()
        .delete_credential()
        .unwrap();
    assert_eq!(
        h.err("vault_unlock", json!({ "method": "keyring" })),
        "keyring_entry_missing"
    );
    h.ok(
        "vault_unlock",
        json!({ "method": "passphrase", "secret": PASS }),
    );
    h.ok("vault_lock", json!({}));
    // The next start needs no secret again.
    h.ok("vault_unlock", json!({ "method": "keyring" }));
}

#[test]
fn passphrase_add_change_and_new_recovery_key() {
    require_keyring();
    let h = Harness::new();
    // A vault without a passphrase.
    let c = h.ok("vault_create", json!({ "passphrase": null }));
    let first_key = c["recoveryKey"].as_str().unwrap().to_string();
    assert_eq!(
        h.err("passphrase_set", json!({ "current": null, "next": "" })),
        "empty_passphrase"
    );
    h.ok(
        "passphrase_set",
        json!({ "current": null, "next": "first pass" }),
    );
    // Changing it needs the current one, right.
    assert_eq!(
        h.err(
            "passphrase_set",
            json!({ "current": null, "next": "second" })
        ),
        "passphrase_required"
    );
    assert_eq!(
        h.err(
            "passphrase_set",
            json!({ "current": "wrong", "next": "second" })
        ),
        "wrong_passphrase"
    );
    h.ok(
        "passphrase_set",
        json!({ "current": "first pass", "next": "second pass" }),
    );
    let kinds: Vec<String> = h
        .ok("slots_list", json!({}))
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["kind"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(kinds, ["keyring", "recovery", "passphrase"]);

    let new_key = h.ok("recovery_key_new", json!({}))["recoveryKey"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(new_key, first_key);
    let g: Vec<&str> = new_key.split('-').collect();
    let answers =
        json!({ "answers": [{ "group": 4, "text": g[3] }, { "group": 5, "text": g[4] }] });
    assert_eq!(
        h.ok("vault_confirm_recovery", answers),
        json!({ "ok": true })
    );

    h.ok("vault_lock", json!({}));
    assert_eq!(
        h.err(
            "vault_unlock",
            json!({ "method": "passphrase", "secret": "first pass" })
        ),
        "wrong_passphrase"
    );
    assert_eq!(
        h.err(
            "vault_unlock",
            json!({ "method": "recoveryKey", "secret": first_key })
        ),
        "wrong_recovery_key"
    );
    h.ok(
        "vault_unlock",
        json!({ "method": "recoveryKey", "secret": new_key }),
    );
    h.ok("vault_lock", json!({}));
    h.ok(
        "vault_unlock",
        json!({ "method": "passphrase", "secret": "second pass" }),
    );
}
