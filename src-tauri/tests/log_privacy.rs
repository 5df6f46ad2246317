//! The log file gets ids and codes, never user content: a whole session
//! with a marker in every user field (titles, notes, tags, list names,
//! dates, a refused quick-add line, an import, a deep link), then the log
//! folder is searched for the markers.
//!
//! Its own test binary: logging is set up once per process.

mod common;

use common::{require_keyring, run_ok, Harness, Setup};
use serde_json::json;

const MARKERS: &[&str] = &[
    "Zqtitle",
    "Zqnotes",
    "Zqtag",
    "Zqlist",
    "Zqbad",
    "Zqimport",
    "Zqlink",
    "Zqpp",
    "2031-07-04",
];

#[test]
fn a_session_logs_no_user_content() {
    require_keyring();
    let logs = tempfile::tempdir().unwrap();
    productivitypro_app::logging::init(logs.path()).unwrap();

    let h = Harness::with(Setup {
        launch: productivitypro_app::desktop::launch::parse_args([
            "productivitypro://add?title=Zqlink%20thing",
        ]),
        ..Setup::default()
    });
    h.ok("app_status", json!({}));
    h.create();
    let t = h.add("Zqtitle one 2031-07-04 9am #Zqlist @Zqtag !1");
    let id = t["id"].as_str().unwrap();
    h.ok(
        "task_update",
        json!({ "id": id, "patch": { "notes": "Zqnotes here", "addTags": ["Zqtag2"] } }),
    );
    assert_eq!(
        h.err("task_add", json!({ "text": "x #Zqbad #Zqbad2" })),
        "quick_add_multiple_lists"
    );
    assert_eq!(
        h.err("list_add", json!({ "name": "Zqlist" })),
        "list_exists"
    );
    assert_eq!(
        h.err("parse_due", json!({ "text": "Zqbad o'clock" })),
        "quick_add_not_a_date"
    );
    h.ok(
        "quick_add_preview",
        json!({ "text": "Zqtitle preview tomorrow" }),
    );
    let csv = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(csv.path(), "title,notes\nZqimport row,Zqnotes\n").unwrap();
    let _ = h.call(
        "import_from",
        json!({ "format": "csv", "path": csv.path() }),
    );
    let broken = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(broken.path(), "{\"Zqimport\": ").unwrap();
    assert_eq!(
        h.err(
            "import_from",
            json!({ "format": "json", "path": broken.path() })
        ),
        "import_malformed"
    );
    let before = h.count_events("vault://changed");
    run_ok(h.pp().args(["add", "Zqpp from pp"]));
    h.wait_event("vault://changed", before);
    h.ok("tasks_complete", json!({ "ids": [id] }));
    h.ok("undo", json!({}));
    h.ok("vault_lock", json!({}));

    let mut all = String::new();
    for e in std::fs::read_dir(logs.path()).unwrap() {
        all.push_str(&std::fs::read_to_string(e.unwrap().path()).unwrap());
    }
    // The log is not empty: it says what happened, by id and code.
    for expected in [
        "vault created",
        "action=\"task_add\"",
        "quick_add_multiple_lists",
        "outside change",
        "vault locked",
        id,
    ] {
        assert!(all.contains(expected), "log lacks `{expected}`:\n{all}");
    }
    for m in MARKERS {
        assert!(
            !all.to_lowercase().contains(&m.to_lowercase()),
            "user content `{m}` in the log:\n{all}"
        );
    }
}
