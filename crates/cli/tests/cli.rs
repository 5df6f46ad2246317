//! `pp` end to end, as a person or a script uses it, with a passphrase.

mod common;

use common::{fails_with, json, ok, pp, recovery_key_from, run};

const PASS: &str = "a long and private passphrase";

fn init(dir: &std::path::Path) -> String {
    let out = ok(pp(dir)
        .args(["init", "--no-keyring"])
        .env("PRODUCTIVITYPRO_PASSPHRASE", PASS));
    recovery_key_from(&out)
}

fn with_pass(dir: &std::path::Path) -> std::process::Command {
    let mut c = pp(dir);
    c.env("PRODUCTIVITYPRO_PASSPHRASE", PASS);
    c
}

#[test]
fn quick_add_list_done_edit_search_rm() {
    let tmp = tempfile::tempdir().unwrap();
    init(tmp.path());
    let t = json(&ok(with_pass(tmp.path()).args([
        "add",
        "--json",
        "Pay rent tomorrow 9am #home !1 @bills",
    ])));
    assert_eq!(t["title"], "Pay rent");
    assert_eq!(t["list_name"], "home");
    assert_eq!(t["priority"], 1);
    assert_eq!(t["tags"][0], "bills");
    assert_eq!(t["due"]["time"], "09:00:00");
    let id = t["id"].as_str().unwrap().to_string();

    let w = json(&ok(with_pass(tmp.path()).args([
        "add",
        "--json",
        "Water plants every monday #home",
    ])));
    assert!(
        w["recurrence"].as_str().unwrap().contains("BYDAY=MO"),
        "{w}"
    );
    let wid = w["id"].as_str().unwrap().to_string();

    let all = json(&ok(with_pass(tmp.path()).args(["list", "--json"])));
    assert_eq!(all.as_array().unwrap().len(), 2);
    let home = json(&ok(
        with_pass(tmp.path()).args(["list", "--list", "HOME", "--json"])
    ));
    assert_eq!(home.as_array().unwrap().len(), 2);
    let tagged = json(&ok(
        with_pass(tmp.path()).args(["list", "--tag", "bills", "--json"])
    ));
    assert_eq!(tagged.as_array().unwrap().len(), 1);

    // Completing the recurring task schedules its next occurrence.
    let c = json(&ok(with_pass(tmp.path()).args([
        "done",
        "--json",
        &wid[..8],
    ])));
    assert_eq!(c["done"]["done"], true);
    assert!(c["next"]["due"]["date"].as_str().unwrap() > w["due"]["date"].as_str().unwrap());

    ok(with_pass(tmp.path()).args([
        "edit",
        &id,
        "--title",
        "Pay the rent",
        "--priority",
        "2",
        "--add-tag",
        "money",
        "--due",
        "2026-12-01",
    ]));
    let shown = json(&ok(with_pass(tmp.path()).args(["show", &id, "--json"])));
    assert_eq!(shown["title"], "Pay the rent");
    assert_eq!(shown["priority"], 2);
    assert_eq!(shown["due"]["date"], "2026-12-01");
    assert_eq!(shown["tags"].as_array().unwrap().len(), 2);

    let found = json(&ok(
        with_pass(tmp.path()).args(["search", "--json", "the", "RENT"])
    ));
    assert_eq!(found.as_array().unwrap().len(), 1);

    // rm moves to the trash; only emptying it destroys the task.
    ok(with_pass(tmp.path()).args(["rm", &id]));
    let shown = json(&ok(with_pass(tmp.path()).args(["show", &id, "--json"])));
    assert!(shown["trashed_at"].is_string(), "{shown}");
    ok(with_pass(tmp.path()).args(["trash", "empty", &id]));
    fails_with(with_pass(tmp.path()).args(["show", &id]), "task_not_found");
}

#[test]
fn bad_input_gets_clear_errors_and_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let rk = init(tmp.path());
    ok(with_pass(tmp.path()).args(["add", "keep me"]));

    let e = fails_with(
        pp(tmp.path())
            .args(["list"])
            .env("PRODUCTIVITYPRO_PASSPHRASE", "nope"),
        "wrong_passphrase",
    );
    assert!(e.contains("wrong passphrase"));

    let mut typo = rk.clone().into_bytes();
    typo[0] = if typo[0] == b'Z' { b'Y' } else { b'Z' };
    let e = fails_with(
        pp(tmp.path()).args(["list"]).env(
            "PRODUCTIVITYPRO_RECOVERY_KEY",
            String::from_utf8(typo).unwrap(),
        ),
        "recovery_key_mistyped",
    );
    assert!(e.contains("mistyped"));
    ok(pp(tmp.path())
        .args(["list"])
        .env("PRODUCTIVITYPRO_RECOVERY_KEY", rk.to_lowercase()));

    let e = fails_with(
        with_pass(tmp.path()).args(["add", "!7 hello"]),
        "invalid_quick_add",
    );
    assert!(e.contains("priority"), "{e}");
    fails_with(
        with_pass(tmp.path()).args(["edit", "ffff", "--priority", "2"]),
        "task_not_found",
    );
    fails_with(
        with_pass(tmp.path()).args(["done", "nothex"]),
        "task_not_found",
    );
    fails_with(
        with_pass(tmp.path()).args(["edit", "ffffffffffffffffffffffffffffffff", "--title", "x"]),
        "task_not_found",
    );
    let r = run(with_pass(tmp.path()).args(["edit", "x", "--priority", "9"]));
    assert!(!r.ok);

    // A malformed import names the line and writes nothing.
    let bad = tmp.path().join("bad.json");
    std::fs::write(&bad, "{\"format\":\"productivitypro\",\"version\":1,\n\"lists\":[],\n\"tasks\":[{\"title\": 5}]}").unwrap();
    let e = fails_with(
        with_pass(tmp.path())
            .args(["import", "--format", "json"])
            .arg(&bad),
        "import_malformed",
    );
    assert!(e.contains("line 3"), "{e}");
    let bad_csv = tmp.path().join("bad.csv");
    std::fs::write(&bad_csv, "TYPE,CONTENT,DESCRIPTION,PRIORITY,INDENT,AUTHOR,RESPONSIBLE,DATE,DATE_LANG,TIMEZONE\ntask,ok,,4,1,,,,en,\ntask,bad,,9,1,,,,en,\n").unwrap();
    let e = fails_with(
        with_pass(tmp.path())
            .args(["import", "--format", "todoist"])
            .arg(&bad_csv),
        "import_malformed",
    );
    assert!(e.contains("line 3"), "{e}");
    let tasks = json(&ok(with_pass(tmp.path()).args(["list", "--json"])));
    assert_eq!(
        tasks.as_array().unwrap().len(),
        1,
        "a failed import wrote something"
    );

    // A damaged vault file is reported as such.
    std::fs::write(
        tmp.path().join("vault.db"),
        b"this is not a database at all, not even close....",
    )
    .unwrap();
    let _ = std::fs::remove_file(tmp.path().join("vault.db-wal"));
    let e = fails_with(with_pass(tmp.path()).args(["list"]), "vault_corrupt");
    assert!(e.contains("pp vault restore"), "{e}");
}

#[test]
fn export_import_round_trip_into_a_new_vault() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    init(a.path());
    init(b.path());
    for line in [
        "Alpha, with comma #work !1 @x",
        "Beta \"quoted\" tomorrow 5pm",
        "Gamma every 2 weeks #home",
    ] {
        ok(with_pass(a.path()).args(["add", line]));
    }
    let first = json(&ok(with_pass(a.path()).args(["list", "--json"])));
    let parent = first[0]["id"].as_str().unwrap().to_string();
    ok(with_pass(a.path()).args([
        "add",
        "Sub step",
        "--parent",
        &parent,
        "--notes",
        "multi\nline",
    ]));

    let file = a.path().join("export.json");
    ok(with_pass(a.path())
        .args(["export", "--format", "json", "--out"])
        .arg(&file));
    ok(with_pass(b.path())
        .args(["import", "--format", "json"])
        .arg(&file));
    let back = b.path().join("back.json");
    ok(with_pass(b.path())
        .args(["export", "--format", "json", "--out"])
        .arg(&back));
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        std::fs::read_to_string(&back).unwrap()
    );

    // Importing the same file again is refused as a whole.
    fails_with(
        with_pass(b.path())
            .args(["import", "--format", "json"])
            .arg(&file),
        "import_conflict",
    );

    for (format, expected) in [
        ("csv", "\"Alpha, with comma\""),
        ("ical", "SUMMARY:Alpha\\, with comma"),
    ] {
        let out = ok(with_pass(a.path()).args(["export", "--format", format]));
        assert!(out.contains(expected), "{format}: {out}");
    }
}

#[test]
fn vault_commands_backup_restore_rotate() {
    let tmp = tempfile::tempdir().unwrap();
    let rk = init(tmp.path());
    ok(with_pass(tmp.path()).args(["add", "precious"]));
    let status = json(&ok(
        with_pass(tmp.path()).args(["vault", "status", "--json"])
    ));
    assert_eq!(status["tasks"], 1);
    let kinds: Vec<&str> = status["slots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["passphrase", "recovery"]);
    assert!(
        !status.to_string().contains(&rk),
        "status must never show keys"
    );
    // The first write made an automatic backup.
    assert_eq!(status["backups"].as_array().unwrap().len(), 1);

    let file = tmp.path().join("manual.ppbackup");
    ok(with_pass(tmp.path())
        .args(["vault", "backup", "--out"])
        .arg(&file));

    let out = ok(with_pass(tmp.path()).args(["vault", "rotate"]));
    let new_rk = recovery_key_from(&out);
    assert_ne!(new_rk, rk);
    fails_with(
        pp(tmp.path())
            .args(["list"])
            .env("PRODUCTIVITYPRO_RECOVERY_KEY", &rk),
        "wrong_recovery_key",
    );
    ok(pp(tmp.path())
        .args(["list"])
        .env("PRODUCTIVITYPRO_RECOVERY_KEY", &new_rk));

    let newpass = tmp.path().join("newpass");
    std::fs::write(&newpass, "another passphrase\n").unwrap();
    ok(with_pass(tmp.path())
        .args(["vault", "change-passphrase", "--new-passphrase-file"])
        .arg(&newpass));
    fails_with(with_pass(tmp.path()).args(["list"]), "wrong_passphrase");
    ok(pp(tmp.path())
        .args(["list", "--passphrase-file"])
        .arg(&newpass));

    // The older backup still opens with the secrets of its time.
    let elsewhere = tempfile::tempdir().unwrap();
    let out = ok(pp(elsewhere.path())
        .args(["vault", "restore", "--no-keyring"])
        .arg(&file)
        .env("PRODUCTIVITYPRO_RECOVERY_KEY", &rk));
    assert!(out.contains("restored 1 tasks"), "{out}");
    let listed = ok(pp(elsewhere.path())
        .args(["list"])
        .env("PRODUCTIVITYPRO_PASSPHRASE", PASS));
    assert!(listed.contains("precious"));
    fails_with(
        pp(elsewhere.path())
            .args(["vault", "restore", "--no-keyring"])
            .arg(&file)
            .env("PRODUCTIVITYPRO_PASSPHRASE", PASS),
        "vault_exists",
    );
}

#[test]
fn imports_from_other_apps() {
    let tmp = tempfile::tempdir().unwrap();
    init(tmp.path());
    let todoist = tmp.path().join("Groceries.csv");
    std::fs::write(
        &todoist,
        "\u{feff}TYPE,CONTENT,DESCRIPTION,PRIORITY,INDENT,AUTHOR,RESPONSIBLE,DATE,DATE_LANG,TIMEZONE\n\
         section,Dairy,,,,,,,,\n\
         task,Milk @shop,2 litres,1,1,,,2026-12-01,en,Europe/Berlin\n\
         note,get the organic one,,,,,,,,\n\
         task,Cheese,,4,2,,,,en,\n",
    )
    .unwrap();
    let out = ok(with_pass(tmp.path())
        .args(["import", "--format", "todoist", "--list", "Groceries"])
        .arg(&todoist));
    assert!(out.contains("imported 2 tasks"), "{out}");
    let tasks = json(&ok(with_pass(tmp.path()).args([
        "list",
        "--list",
        "Groceries",
        "--json",
    ])));
    let milk = tasks
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["title"] == "Milk")
        .expect("milk");
    assert_eq!(milk["priority"], 1);
    assert_eq!(milk["due"]["date"], "2026-12-01");
    assert!(milk["notes"].as_str().unwrap().contains("organic"));
    let cheese = tasks
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["title"] == "Cheese")
        .expect("cheese");
    assert_eq!(cheese["parent"], milk["id"]);

    let tw = tmp.path().join("tw.json");
    std::fs::write(
        &tw,
        r#"[{"uuid":"8a9f1c2e-4b5d-4e6f-9a7b-1c2d3e4f5a6b","description":"Fix the bike","status":"pending","entry":"20261101T100000Z","modified":"20261102T100000Z","due":"20261205T170000Z","project":"Home.Garage","tags":["weekend"],"priority":"H"},
            {"uuid":"1b2c3d4e-5f60-4172-8394-a5b6c7d8e9f0","description":"Old thing","status":"completed","entry":"20261001T100000Z","end":"20261002T100000Z"},
            {"uuid":"2b2c3d4e-5f60-4172-8394-a5b6c7d8e9f0","description":"Gone","status":"deleted","entry":"20261001T100000Z"}]"#,
    )
    .unwrap();
    let out = ok(with_pass(tmp.path())
        .args(["import", "--format", "taskwarrior"])
        .arg(&tw));
    assert!(out.contains("imported 2 tasks"), "{out}");
    let bike = json(&ok(with_pass(tmp.path()).args(["search", "--json", "bike"])));
    assert_eq!(bike[0]["list_name"], "Home.Garage");
    assert_eq!(bike[0]["priority"], 1);
    assert_eq!(bike[0]["tags"][0], "weekend");
    let done = json(&ok(with_pass(tmp.path()).args(["list", "--done", "--json"])));
    assert_eq!(done[0]["title"], "Old thing");

    // iCalendar from our own export re-imports into another vault.
    let ics = tmp.path().join("all.ics");
    ok(with_pass(tmp.path())
        .args(["export", "--format", "ical", "--out"])
        .arg(&ics));
    let other = tempfile::tempdir().unwrap();
    init(other.path());
    let out = ok(with_pass(other.path())
        .args(["import", "--format", "ical"])
        .arg(&ics));
    assert!(out.contains("imported 4 tasks"), "{out}");
    let a = json(&ok(
        with_pass(tmp.path()).args(["export", "--format", "json"])
    ));
    let b = json(&ok(
        with_pass(other.path()).args(["export", "--format", "json"])
    ));
    assert_eq!(
        a["tasks"].as_array().unwrap().len(),
        b["tasks"].as_array().unwrap().len()
    );
}
