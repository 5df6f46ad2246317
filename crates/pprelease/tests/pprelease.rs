//! `pprelease` end to end against a real service, and its keys and
//! signatures against the reference minisign tool in both directions.

#[path = "../../../updater-server/tests/common/mod.rs"]
mod common;

use std::path::Path;
use std::process::Command;

use base64::Engine as _;
use common::Harness;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

async fn pprelease(h: &Harness, args: &[&str]) -> (i32, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pprelease"));
    cmd.args(args)
        .env("PPRELEASE_SERVER", &h.base)
        .env("PPRELEASE_TOKEN", &h.token)
        .env("TAURI_SIGNING_PRIVATE_KEY_PASSWORD", "correct horse")
        .env_remove("TAURI_SIGNING_PRIVATE_KEY")
        .current_dir(h.dir.path());
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn minisign() -> Option<&'static str> {
    let found = Command::new("minisign").arg("-v").output().is_ok();
    if !found && std::env::var_os("CI").is_some() {
        panic!("CI must check keys against the reference minisign tool: apt-get install minisign");
    }
    found.then_some("minisign")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_release_engineers_session() {
    let tmp = tempfile::tempdir().unwrap();
    let db = &common::databases(tmp.path()).await[0];
    // The key comes from `pprelease keygen`, so start a throwaway service to run it beside.
    let keygen_h = Harness::start(db).await;
    let (code, public, err) = pprelease(&keygen_h, &["keygen", "--out", "release.key"]).await;
    assert_eq!(code, 0, "{err}");
    let key_dir = keygen_h.dir.path().to_path_buf();
    let public = public.trim().to_string();
    let db2 = format!("sqlite://{}/second.db", tmp.path().display());
    let h = Harness::start_with(&db2, |c| c.public_key = Some(public.clone())).await;
    std::fs::copy(
        key_dir.join("release.key"),
        h.dir.path().join("release.key"),
    )
    .unwrap();
    assert_eq!(
        pprelease(&h, &["keygen", "--out", "release.key"]).await.0,
        1,
        "refuses to overwrite a key"
    );

    let artifact = h.dir.path().join("ProductivityPro_1.0.0_amd64.AppImage");
    std::fs::write(&artifact, vec![7u8; 3 << 20]).unwrap();
    let (code, _, err) = pprelease(
        &h,
        &[
            "sign",
            artifact.to_str().unwrap(),
            "--version",
            "1.0.0",
            "--key",
            "release.key",
        ],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    // The signature names its version, so it cannot be published as another one.
    let (code, _, err) = pprelease(
        &h,
        &[
            "publish",
            "--version",
            "1.0.1",
            "--artifact",
            &format!("linux-x86_64-appimage={}", artifact.display()),
        ],
    )
    .await;
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("signed for version 1.0.0, not 1.0.1"), "{err}");
    std::fs::write(h.dir.path().join("notes.md"), "## Fixes\n- faster sync\n").unwrap();
    let (code, out, err) = pprelease(
        &h,
        &[
            "publish",
            "--version",
            "1.0.0",
            "--notes",
            "notes.md",
            "--channel",
            "canary",
            "--percent",
            "5",
            "--json",
            "--artifact",
            &format!("linux-x86_64-appimage={}", artifact.display()),
        ],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    let published: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(published["channels"][0]["percent"], 5.0);

    assert_eq!(
        pprelease(
            &h,
            &["rollout", "1.0.0", "--channel", "canary", "--percent", "25"]
        )
        .await
        .0,
        0
    );
    assert_eq!(
        pprelease(&h, &["promote", "1.0.0", "--to", "beta", "--percent", "10"])
            .await
            .0,
        0
    );
    assert_eq!(
        pprelease(&h, &["halt", "1.0.0", "--reason", "bad sync"])
            .await
            .0,
        0
    );
    let (code, table, _) = pprelease(&h, &["status"]).await;
    assert_eq!(code, 0);
    assert!(
        table.contains("canary")
            && table.contains("25%")
            && table.contains("halted")
            && table.contains("bad sync"),
        "{table}"
    );
    assert!(
        table.starts_with("health over the last 24h (since 2026-11-22T12:00:00Z)"),
        "the window is shown: {table}"
    );
    let row = |table: &str, first: &str| -> Vec<String> {
        table
            .lines()
            .find(|l| l.starts_with(first))
            .map(|l| l.split_whitespace().map(str::to_string).collect())
            .unwrap_or_default()
    };
    assert_eq!(
        row(&table, "linux-x86_64-appimage")[..3],
        ["linux-x86_64-appimage", "1.0.0", "halted"],
        "{table}"
    );
    // One platform alone.
    assert_eq!(pprelease(&h, &["resume", "1.0.0"]).await.0, 0);
    let (code, out, err) = pprelease(
        &h,
        &[
            "halt",
            "1.0.0",
            "--platform",
            "linux-x86_64-appimage",
            "--reason",
            "deb hook",
        ],
    )
    .await;
    assert_eq!(
        (code, err.trim()),
        (0, "1.0.0 on linux-x86_64-appimage: halt done"),
        "{out}"
    );
    let (_, table, _) = pprelease(&h, &["status"]).await;
    let linux = row(&table, "linux-x86_64-appimage");
    assert_eq!(
        linux[..3],
        ["linux-x86_64-appimage", "1.0.0", "halted"],
        "{table}"
    );
    assert!(linux.join(" ").ends_with("deb hook"), "{table}");
    assert_eq!(
        row(&table, "canary")[3],
        "active",
        "the release itself is active: {table}"
    );
    assert_eq!(
        pprelease(
            &h,
            &["resume", "1.0.0", "--platform", "linux-x86_64-appimage"]
        )
        .await
        .0,
        0
    );
    assert_eq!(
        pprelease(&h, &["halt", "1.0.0", "--reason", "bad sync"])
            .await
            .0,
        0
    );
    let (code, _, err) = pprelease(&h, &["resume", "9.9.9"]).await;
    assert_eq!(
        (code, err.trim()),
        (3, "pprelease: unknown_release: no release 9.9.9")
    );
    let (code, out, _) = pprelease(&h, &["audit", "--json"]).await;
    assert_eq!(code, 0);
    let audit: serde_json::Value = serde_json::from_str(&out).unwrap();
    let actions: Vec<&str> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        &actions[..8],
        ["halt", "resume", "halt", "resume", "halt", "promote", "rollout", "publish"]
    );
    let (code, out, err) = pprelease(
        &h,
        &[
            "advance",
            "--policy",
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../installers/rollout-policy.toml"
            ),
        ],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("nothing to advance"),
        "halted releases are not advanced: {out}"
    );

    // The artifact the service hands out is byte-identical and verifies.
    let offer = h
        .check("/v1/update/linux/x86_64/0.9.0?channel=canary", None)
        .await;
    assert_eq!(offer, Ok(None), "halted");
    assert_eq!(pprelease(&h, &["resume", "1.0.0"]).await.0, 0);
    assert_eq!(
        pprelease(
            &h,
            &[
                "rollout",
                "1.0.0",
                "--channel",
                "canary",
                "--percent",
                "100"
            ]
        )
        .await
        .0,
        0
    );
    let offer = h
        .check("/v1/update/linux/x86_64/0.9.0?channel=canary", None)
        .await
        .unwrap()
        .unwrap();
    let bytes = h
        .http
        .get(&offer.url)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let sig = String::from_utf8(B64.decode(&offer.signature).unwrap()).unwrap();
    let pk = productivitypro_protocol::signature::parse_public_key(&public).unwrap();
    productivitypro_protocol::signature::verify_bytes(
        &pk,
        &sig,
        "ProductivityPro_1.0.0_amd64.AppImage",
        &bytes,
    )
    .unwrap();
    keygen_h.stop().await;
    h.stop().await;
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_and_signatures_work_with_the_minisign_tool_both_ways() {
    let Some(tool) = minisign() else {
        eprintln!("minisign not installed: skipped (apt-get install minisign)");
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let db = &common::databases(tmp.path()).await[0];
    let h = Harness::start(db).await;
    let d = h.dir.path();
    let file = d.join("app.tar.gz");
    std::fs::write(&file, b"a macOS bundle").unwrap();

    // pprelease key and signature -> verified by minisign.
    assert_eq!(pprelease(&h, &["keygen", "--out", "pp.key"]).await.0, 0);
    assert_eq!(
        pprelease(
            &h,
            &[
                "sign",
                "app.tar.gz",
                "--version",
                "1.0.0",
                "--key",
                "pp.key"
            ]
        )
        .await
        .0,
        0
    );
    let decode = |p: &Path, to: &Path| {
        std::fs::write(
            to,
            B64.decode(std::fs::read_to_string(p).unwrap().trim())
                .unwrap(),
        )
        .unwrap()
    };
    decode(&d.join("pp.key.pub"), &d.join("pp.pub"));
    decode(&d.join("app.tar.gz.sig"), &d.join("app.minisig"));
    run(Command::new(tool).current_dir(d).args([
        "-V",
        "-m",
        "app.tar.gz",
        "-p",
        "pp.pub",
        "-x",
        "app.minisig",
    ]));

    // minisign key (password from stdin) and signature -> read by pprelease and the service.
    let with_password = |args: &[&str]| {
        let mut child = Command::new(tool)
            .current_dir(d)
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        use std::io::Write;
        child.stdin.take().unwrap().write_all(b"pw\npw\n").unwrap();
        assert!(child.wait().unwrap().success(), "minisign {args:?}");
    };
    with_password(&["-G", "-p", "ms.pub", "-s", "ms.key"]);
    with_password(&[
        "-S",
        "-s",
        "ms.key",
        "-m",
        "app.tar.gz",
        "-x",
        "app.tar.gz.sig",
    ]);
    let sig = std::fs::read_to_string(d.join("app.tar.gz.sig")).unwrap();
    let pk = productivitypro_protocol::signature::parse_public_key(
        &std::fs::read_to_string(d.join("ms.pub")).unwrap(),
    )
    .unwrap();
    productivitypro_protocol::signature::verify_bytes(&pk, &sig, "app.tar.gz", b"a macOS bundle")
        .unwrap();
    // pprelease signs with a minisign-made secret key, in raw or Tauri's base64 form.
    std::fs::write(
        d.join("ms.key.b64"),
        B64.encode(std::fs::read(d.join("ms.key")).unwrap()),
    )
    .unwrap();
    for key in ["ms.key", "ms.key.b64"] {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_pprelease"));
        cmd.current_dir(d)
            .args(["sign", "app.tar.gz", "--version", "1.0.0", "--key", key])
            .env("TAURI_SIGNING_PRIVATE_KEY_PASSWORD", "pw");
        run(&mut cmd);
        decode(&d.join("app.tar.gz.sig"), &d.join("app.minisig"));
        run(Command::new(tool).current_dir(d).args([
            "-V",
            "-m",
            "app.tar.gz",
            "-p",
            "ms.pub",
            "-x",
            "app.minisig",
        ]));
    }
    h.stop().await;
}

/// The Tauri CLI (`@tauri-apps/cli` from npm), which CI installs and names here.
fn tauri_cli() -> Option<String> {
    match std::env::var("PRODUCTIVITYPRO_TAURI_CLI") {
        Ok(p) => Some(p),
        Err(_) if std::env::var_os("CI").is_some() => {
            panic!(
                "CI must check keys against `tauri signer`: scripts/test installs @tauri-apps/cli"
            )
        }
        Err(_) => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_and_signatures_work_with_tauri_signer_both_ways() {
    let Some(tauri) = tauri_cli() else {
        eprintln!("PRODUCTIVITYPRO_TAURI_CLI unset: skipped");
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path();
    let password = "correct horse";

    // `tauri signer generate` key -> `pprelease sign` -> a service trusting that key accepts it.
    run(Command::new(&tauri).current_dir(work).args([
        "signer",
        "generate",
        "-w",
        "tauri.key",
        "-p",
        password,
        "--ci",
    ]));
    let tauri_pub = std::fs::read_to_string(work.join("tauri.key.pub")).unwrap();
    let db = format!("sqlite://{}/a.db", work.display());
    let h = Harness::start_with(&db, |c| c.public_key = Some(tauri_pub.clone())).await;
    let d = h.dir.path();
    std::fs::copy(work.join("tauri.key"), d.join("tauri.key")).unwrap();
    std::fs::write(
        d.join("pp_1.0.0.AppImage"),
        b"signed by pprelease with a tauri key",
    )
    .unwrap();
    assert_eq!(
        pprelease(
            &h,
            &[
                "sign",
                "pp_1.0.0.AppImage",
                "--version",
                "1.0.0",
                "--key",
                "tauri.key"
            ]
        )
        .await
        .0,
        0
    );
    let (code, _, err) = pprelease(
        &h,
        &[
            "publish",
            "--version",
            "1.0.0",
            "--channel",
            "stable",
            "--artifact",
            "linux-x86_64-appimage=pp_1.0.0.AppImage",
        ],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    h.stop().await;

    // `pprelease keygen` key -> `tauri signer sign` -> verified, and accepted by the service.
    let db = format!("sqlite://{}/b.db", work.display());
    let keygen = Harness::start(&db).await;
    let (code, pp_pub, _) = pprelease(&keygen, &["keygen", "--out", "pp.key"]).await;
    assert_eq!(code, 0);
    let key_path = keygen.dir.path().join("pp.key");
    let file = work.join("pp_2.0.0.AppImage");
    std::fs::write(&file, b"signed by tauri with a pprelease key").unwrap();
    let tauri_sign = |extra: &[&str]| {
        run(Command::new(&tauri)
            .current_dir(work)
            .args([
                "signer",
                "sign",
                "-f",
                key_path.to_str().unwrap(),
                "-p",
                password,
            ])
            .args(extra)
            .arg(file.to_str().unwrap())
            .env_remove("TAURI_SIGNING_PRIVATE_KEY")
            .env_remove("TAURI_SIGNING_PRIVATE_KEY_PASSWORD"));
        std::fs::read_to_string(work.join("pp_2.0.0.AppImage.sig")).unwrap()
    };
    // Without --app-version the signature binds no version: the service refuses it by default.
    let unversioned = tauri_sign(&[]);
    tauri_sign(&["--app-version", "2.0.0"]);
    let sig = String::from_utf8(
        B64.decode(
            std::fs::read_to_string(work.join("pp_2.0.0.AppImage.sig"))
                .unwrap()
                .trim(),
        )
        .unwrap(),
    )
    .unwrap();
    let pk = productivitypro_protocol::signature::parse_public_key(pp_pub.trim()).unwrap();
    productivitypro_protocol::signature::verify_bytes(
        &pk,
        &sig,
        "pp_2.0.0.AppImage",
        &std::fs::read(&file).unwrap(),
    )
    .unwrap();
    keygen.stop().await;
    let db = format!("sqlite://{}/c.db", work.display());
    let h = Harness::start_with(&db, |c| c.public_key = Some(pp_pub.trim().to_string())).await;
    std::fs::copy(&file, h.dir.path().join("pp_2.0.0.AppImage")).unwrap();
    std::fs::copy(
        work.join("pp_2.0.0.AppImage.sig"),
        h.dir.path().join("pp_2.0.0.AppImage.sig"),
    )
    .unwrap();
    let publish_2 = [
        "publish",
        "--version",
        "2.0.0",
        "--channel",
        "stable",
        "--artifact",
        "linux-x86_64-appimage=pp_2.0.0.AppImage",
    ];
    std::fs::write(h.dir.path().join("pp_2.0.0.AppImage.sig"), &unversioned).unwrap();
    let (code, _, err) = pprelease(&h, &publish_2).await;
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("unsigned_version"), "{err}");
    std::fs::copy(
        work.join("pp_2.0.0.AppImage.sig"),
        h.dir.path().join("pp_2.0.0.AppImage.sig"),
    )
    .unwrap();
    let (code, _, err) = pprelease(&h, &publish_2).await;
    assert_eq!(code, 0, "{err}");
    h.stop().await;
}
