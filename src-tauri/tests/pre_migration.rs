//! A vault a newer app upgraded (`vault_too_new`) goes back to the copy
//! taken before that upgrade, through IPC, with the real keyring.

mod common;

use common::{require_keyring, Harness, PASS};
use productivitypro_core::schema::CURRENT_VERSION;
use serde_json::{json, Value};

fn titles(h: &Harness) -> Vec<String> {
    let mut t: Vec<String> = h
        .all_tasks()
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["title"].as_str().unwrap().to_string())
        .collect();
    t.sort();
    t
}

#[test]
fn a_vault_too_new_is_restored_from_its_pre_migration_copy_and_unlocked() {
    require_keyring();
    let h = Harness::new();
    h.create();
    h.add("before the update");
    h.ok("vault_lock", json!({}));
    // What a newer app leaves behind: a copy at this schema, then its own
    // changes and a schema this version does not read.
    let db = h.vault_dir().join("vault.db");
    let name = format!("vault-schema-{CURRENT_VERSION}-20261120T080000.000Z.db");
    let copies = h.vault_dir().join("pre-migration");
    std::fs::create_dir_all(&copies).unwrap();
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute("VACUUM INTO ?1", [copies.join(&name).to_str().unwrap()])
        .unwrap();
    h.ok("vault_unlock", json!({ "method": "keyring" }));
    h.add("after the update");
    h.ok("vault_lock", json!({}));
    rusqlite::Connection::open(&db)
        .unwrap()
        .pragma_update(None, "user_version", CURRENT_VERSION + 1)
        .unwrap();

    assert_eq!(
        h.err("vault_unlock", json!({ "method": "keyring" })),
        "vault_too_new"
    );
    let list = h.ok("pre_migration_list", json!({}));
    assert_eq!(
        list,
        json!([{
            "name": name,
            "schema": CURRENT_VERSION,
            "createdAt": "2026-11-20T08:00:00.000Z",
            "bytes": std::fs::metadata(copies.join(&name)).unwrap().len(),
        }])
    );

    assert_eq!(
        h.err(
            "pre_migration_restore",
            json!({ "name": "../vault.db", "method": "keyring" })
        ),
        "pre_migration_copy_not_found"
    );
    assert_eq!(
        h.err(
            "pre_migration_restore",
            json!({ "name": name, "method": "passphrase", "secret": "not it" })
        ),
        "wrong_passphrase"
    );
    assert_eq!(
        h.err(
            "pre_migration_restore",
            json!({ "name": name, "method": "passphrase" })
        ),
        "invalid_argument"
    );
    // Nothing moved yet.
    assert_eq!(
        h.err("vault_unlock", json!({ "method": "keyring" })),
        "vault_too_new"
    );

    let snap = h.ok(
        "pre_migration_restore",
        json!({ "name": name, "method": "keyring" }),
    );
    assert!(snap["counts"].is_object(), "{snap}");
    assert_eq!(titles(&h), ["before the update"]);
    let aside: Vec<String> = std::fs::read_dir(h.vault_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with("vault.db.replaced-"))
        .collect();
    assert_eq!(aside.len(), 1, "{aside:?}");
    assert!(copies.join(&name).is_file());

    // A vault this version opens is never swapped for an older copy.
    h.ok("vault_lock", json!({}));
    assert_eq!(
        h.err(
            "pre_migration_restore",
            json!({ "name": name, "method": "passphrase", "secret": PASS })
        ),
        "invalid_argument"
    );
    h.ok(
        "vault_unlock",
        json!({ "method": "passphrase", "secret": PASS }),
    );
    assert_eq!(titles(&h), ["before the update"]);
    let _: Value = h.ok("pre_migration_list", json!({}));
}
