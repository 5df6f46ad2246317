//! Export and import in every format `pp` has, backups and restore,
//! settings that take effect, and what the capability lets the UI call.

mod common;

use common::{require_keyring, Harness, Setup, PASS};
use serde_json::{json, Value};

fn titles(h: &Harness) -> Vec<String> {
    let mut v: Vec<String> = h
        .all_tasks()
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["title"].as_str().unwrap().to_string())
        .collect();
    v.sort();
    v
}

#[test]
fn export_and_import_every_format() {
    require_keyring();
    let h = Harness::new();
    h.create();
    h.add("Export me tomorrow #work @x !2");
    h.add("And me");
    let dir = tempfile::tempdir().unwrap();
    for format in ["json", "csv", "ical"] {
        let path = dir.path().join(format!("out.{format}"));
        let r = h.ok("export_to", json!({ "format": format, "path": path }));
        assert_eq!(r, json!({ "tasks": 2 }));
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("Export me"), "{format}: {text}");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{format}");
        }
    }
    assert_eq!(
        h.err(
            "export_to",
            json!({ "format": "todoist", "path": dir.path().join("t.csv") })
        ),
        "invalid_argument"
    );
    assert_eq!(
        h.err(
            "export_to",
            json!({ "format": "pdf", "path": dir.path().join("t.pdf") })
        ),
        "invalid_argument"
    );
    assert_eq!(
        h.err(
            "export_to",
            json!({ "format": "json", "path": dir.path().join("no/such/dir/x.json") })
        ),
        "io"
    );

    // Into another vault: CSV into a named list, iCalendar as it is.
    let other = Harness::new();
    other.create();
    let c = other.ok(
        "import_from",
        json!({ "format": "csv", "path": dir.path().join("out.csv"), "listName": "Imported" }),
    );
    assert_eq!(c["tasks"].as_array().unwrap().len(), 2);
    assert_eq!(c["history"]["undoLabel"], "2 tasks imported");
    let names: Vec<&str> = c["lists"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"work") && names.contains(&"Imported"),
        "{names:?}"
    );
    other.ok("undo", json!({}));
    assert!(other.all_tasks().as_array().unwrap().is_empty());
    let c = other.ok(
        "import_from",
        json!({ "format": "ical", "path": dir.path().join("out.ical") }),
    );
    assert_eq!(c["tasks"].as_array().unwrap().len(), 2);
    // JSON is lossless: the same ids, so importing it next to the
    // originals is a conflict, and nothing is written.
    assert_eq!(
        h.err(
            "import_from",
            json!({ "format": "json", "path": dir.path().join("out.json") })
        ),
        "import_conflict"
    );

    // Foreign formats and bad files.
    let todoist = dir.path().join("todoist.csv");
    std::fs::write(
        &todoist,
        "TYPE,CONTENT,DESCRIPTION,PRIORITY,INDENT,AUTHOR,RESPONSIBLE,DATE,DATE_LANG,TIMEZONE\ntask,From Todoist @home,,4,1,,,,en,\n",
    )
    .unwrap();
    let c = h.ok(
        "import_from",
        json!({ "format": "todoist", "path": todoist }),
    );
    assert_eq!(c["tasks"][0]["title"], "From Todoist");
    let broken = dir.path().join("broken.json");
    std::fs::write(&broken, "{ not json").unwrap();
    assert_eq!(
        h.err("import_from", json!({ "format": "json", "path": broken })),
        "import_malformed"
    );
    assert_eq!(
        h.err(
            "import_from",
            json!({ "format": "json", "path": dir.path().join("missing.json") })
        ),
        "io"
    );
    assert_eq!(
        h.err("import_from", json!({ "format": "xls", "path": broken })),
        "invalid_argument"
    );
}

#[test]
fn backups_now_list_and_restore_with_the_passphrase() {
    require_keyring();
    let h = Harness::new();
    let key = h.create();
    h.add("Before the backup");
    let b = h.ok("backup_now", json!({}));
    assert!(b["bytes"].as_u64().unwrap() > 0);
    let list = h.ok("backups_list", json!({}));
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .any(|x| x["path"] == b["path"]),
        "{list}"
    );
    h.add("After the backup");

    let path = b["path"].clone();
    for (args, code) in [
        (
            json!({ "path": path, "method": "passphrase", "secret": "wrong" }),
            "wrong_passphrase",
        ),
        (
            json!({ "path": path, "method": "keyring", "secret": "x" }),
            "invalid_argument",
        ),
        (
            json!({ "path": path, "method": "recoveryKey", "secret": "" }),
            "invalid_argument",
        ),
        (
            json!({ "path": h.config.path().join("nothing"), "method": "passphrase", "secret": PASS }),
            "io",
        ),
    ] {
        assert_eq!(h.err("backup_restore", args.clone()), code, "{args}");
        // A refused restore leaves the open vault as it was.
        assert_eq!(titles(&h), ["After the backup", "Before the backup"]);
    }
    let snap = h.ok(
        "backup_restore",
        json!({ "path": path, "method": "recoveryKey", "secret": key }),
    );
    assert!(snap.get("tasks").is_none(), "a snapshot carries no tasks");
    assert_eq!(titles(&h), ["Before the backup"]);
    // The restored vault opens from the keyring on this machine again.
    h.ok("vault_lock", json!({}));
    h.ok("vault_unlock", json!({ "method": "keyring" }));
    let aside = std::fs::read_dir(h.vault_dir())
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with("vault.db.replaced-")
        })
        .count();
    assert!(aside >= 1, "the replaced vault is kept aside");
}

#[test]
fn settings_are_stored_validated_and_take_effect() {
    require_keyring();
    let h = Harness::new();
    let s = h.ok("settings_get", json!({}));
    assert_eq!(s["autostart"], false, "autostart is off by default");
    assert_eq!(s["theme"], "system");

    let mut next = s.clone();
    next["theme"] = json!("dark");
    next["timeFormat"] = json!("12h");
    next["reminderLeadMinutes"] = json!(30);
    next["quickAddShortcut"] = json!(null);
    let back = h.ok("settings_set", json!({ "settings": next }));
    assert_eq!(back, next);
    let stored: Value = serde_json::from_str(
        &std::fs::read_to_string(h.config.path().join("settings.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(stored, next);

    for (field, value) in [
        ("reminderLeadMinutes", json!(-1)),
        ("reminderLeadMinutes", json!(100000)),
        ("lockAfterMinutes", json!(0)),
        ("theme", json!("neon")),
        ("quickAddShortcut", json!("Ctrl+Nonsense+Key")),
    ] {
        let mut bad = next.clone();
        bad[field] = value.clone();
        assert_eq!(
            h.err("settings_set", json!({ "settings": bad })),
            "invalid_argument",
            "{field} = {value}"
        );
    }
    let mut extra = next.clone();
    extra["colour"] = json!("red");
    assert_eq!(
        h.err("settings_set", json!({ "settings": extra })),
        "invalid_argument"
    );
    assert_eq!(
        h.ok("settings_get", json!({})),
        next,
        "refused settings change nothing"
    );

    // Autostart toggles the real entry in the user's autostart folder.
    let entry_dir =
        std::path::PathBuf::from(std::env::var("HOME").unwrap()).join(".config/autostart");
    let entries = || {
        std::fs::read_dir(&entry_dir)
            .map(|d| {
                d.filter_map(Result::ok)
                    .map(|e| e.path())
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
    };
    let before = entries().len();
    let mut on = next.clone();
    on["autostart"] = json!(true);
    h.ok("settings_set", json!({ "settings": on }));
    let now = entries();
    assert_eq!(now.len(), before + 1, "{now:?}");
    let added = now.iter().find(|p| {
        std::fs::read_to_string(p)
            .unwrap()
            .contains("--autostarted")
    });
    assert!(
        added.is_some(),
        "the entry starts the app in the tray: {now:?}"
    );
    h.ok("settings_set", json!({ "settings": next }));
    assert_eq!(entries().len(), before);

    // Without an X display the platform refuses a global shortcut: the
    // error says so and the setting is not stored.
    if std::env::var_os("DISPLAY").is_none() {
        let mut sc = next.clone();
        sc["quickAddShortcut"] = json!("CommandOrControl+Shift+Space");
        assert_eq!(
            h.err("settings_set", json!({ "settings": sc })),
            "platform_refused"
        );
        assert_eq!(h.ok("settings_get", json!({})), next);
    }

    // The settings survive a restart; an unreadable file falls back to
    // the defaults and says so once.
    let config = tempfile::tempdir().unwrap();
    std::fs::write(config.path().join("settings.json"), "{ nope").unwrap();
    let fresh = Harness::with(Setup {
        config: Some(config),
        ..Setup::default()
    });
    let st = fresh.ok("app_status", json!({}));
    assert_eq!(st["notices"][0]["code"], "settings_reset");
    assert_eq!(fresh.ok("app_status", json!({}))["notices"], json!([]));
}

#[test]
fn a_second_long_operation_is_refused_as_busy_not_queued() {
    use std::sync::Arc;
    use tauri::Manager;
    require_keyring();
    let h = Harness::new();
    h.create();
    h.ok("vault_lock", json!({}));
    let shell = h
        .app
        .state::<Arc<productivitypro_app::shell::Shell>>()
        .inner()
        .clone();
    let running = shell.begin_long().unwrap();
    assert_eq!(
        h.err("vault_unlock", json!({ "method": "keyring" })),
        "busy"
    );
    assert_eq!(h.err("vault_create", json!({ "passphrase": null })), "busy");
    drop(running);
    h.ok("vault_unlock", json!({ "method": "keyring" }));
    let running = shell.begin_long().unwrap();
    assert_eq!(h.err("backup_now", json!({})), "busy");
    // Everyday work is not a long operation: it goes on.
    h.add("Not blocked");
    drop(running);
    h.ok("backup_now", json!({}));
}

#[test]
fn launch_requests_are_reported_once() {
    let h = Harness::with(Setup {
        launch: productivitypro_app::desktop::launch::parse_args([
            "productivitypro://add?title=Buy%20milk%20tomorrow%20%40shop",
        ]),
        ..Setup::default()
    });
    let st = h.ok("app_status", json!({}));
    assert_eq!(
        st["launch"],
        json!({ "quickAdd": false, "deepLink": "Buy milk tomorrow @shop" })
    );
    // Confirmed in quick add, not saved: nothing was written (no vault yet).
    assert_eq!(st["vault"], "missing");
    assert_eq!(
        h.ok("app_status", json!({}))["launch"],
        json!({ "quickAdd": false, "deepLink": null })
    );
    let q = Harness::with(Setup {
        launch: productivitypro_app::desktop::launch::parse_args(["--quick-add"]),
        ..Setup::default()
    });
    assert_eq!(q.ok("app_status", json!({}))["launch"]["quickAdd"], true);
    let bad = Harness::with(Setup {
        launch: productivitypro_app::desktop::launch::parse_args(["productivitypro://delete?all"]),
        ..Setup::default()
    });
    let st = bad.ok("app_status", json!({}));
    assert_eq!(st["launch"]["deepLink"], Value::Null);
    assert_eq!(st["notices"][0]["code"], "invalid_argument");
}

/// The notification plugin's page-load script asks whether notifications
/// are allowed; refusing it surfaced as an "internal" error toast in the
/// first window.
#[test]
fn the_notification_plugins_page_script_is_answered() {
    let h = Harness::with(Setup {
        os_notifications: true,
        ..Setup::default()
    });
    assert_eq!(
        h.ok("plugin:notification|is_permission_granted", json!({})),
        json!(true)
    );
    let e = h
        .call(
            "plugin:notification|notify",
            json!({ "options": { "title": "x" } }),
        )
        .expect_err("showing notifications is Rust's");
    assert!(e.to_string().contains("not allowed"), "{e}");
}

/// `commands::NAMES` is the one list of app commands: build.rs gives each
/// a permission from it. Every name must also be granted by the
/// capability and served by `handler`; a name missing from either used to
/// surface only when the UI first called it, as a bare "not allowed" or
/// "not found" string instead of a coded error.
#[test]
fn every_listed_command_is_granted_and_served() {
    let capability: Value = serde_json::from_str(
        &std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("capabilities/main-window.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let mut granted: Vec<String> = capability["permissions"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p.as_str()?.strip_prefix("allow-"))
        .map(|p| p.replace('-', "_"))
        .collect();
    granted.sort();
    let mut listed: Vec<String> = productivitypro_app::commands::NAMES
        .iter()
        .map(|n| n.to_string())
        .collect();
    listed.sort();
    assert_eq!(granted, listed, "capabilities/main-window.json");

    // No vault here: each command answers with its result or a coded error
    // (an unknown argument is refused as `invalid_argument` before anything
    // runs). Tauri's own refusals are bare strings.
    let h = Harness::new();
    let answer = |cmd: &str| match h.call(cmd, json!({ "probe": true })) {
        Ok(_) => Ok(()),
        Err(e) if e["code"].is_string() => Ok(()),
        Err(e) => Err(e),
    };
    for cmd in productivitypro_app::commands::NAMES {
        if let Err(e) = answer(cmd) {
            panic!("{cmd} was not served: {e}");
        }
    }
    assert!(answer("no_such_command").is_err());
}

#[test]
fn the_ui_may_call_only_what_its_capability_grants() {
    let h = Harness::new();
    // App commands are permission-checked (app manifest) and granted.
    h.ok("app_status", json!({}));
    // Plugin commands the UI does not use are not granted.
    for cmd in [
        "plugin:autostart|enable",
        "plugin:notification|notify",
        "plugin:global-shortcut|register",
        "plugin:deep-link|register",
        "plugin:dialog|message",
    ] {
        let e = h.call(cmd, json!({})).expect_err(cmd);
        let text = e.to_string();
        assert!(
            text.contains("not allowed") || text.contains("not found"),
            "{cmd}: {text}"
        );
    }
    // Another window gets nothing.
    let other = tauri::WebviewWindowBuilder::new(&h.app, "other", Default::default())
        .build()
        .unwrap();
    let e = h
        .call_from(&other, "app_status", json!({}))
        .expect_err("other window");
    assert!(e.to_string().contains("not allowed"), "{e}");
}
