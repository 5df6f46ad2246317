//! The client's side of a delta update on two real artifacts (issue 10,
//! docs/benchmarks.md): the time from a downloaded patch to verified
//! bytes, as the app does it (`updates::delta::apply`: patch size and
//! SHA-256, `productivitypro_delta::apply`, the result against the
//! announced size and SHA-256; then the plugin's `Update::verify` against
//! the release's signature). The patch is built here with
//! `productivitypro-delta`'s `build` side (`deb` for a .deb, else `zstd`),
//! the new artifact signed by a throwaway key as `pprelease sign` does.
//! Prints numbers; the download itself is not timed.
//!
//!   cargo run --example delta_rebuild --features productivitypro/custom-protocol -- OLD NEW [RUNS]

use std::io::Cursor;
use std::time::{Duration, Instant};

use base64::Engine as _;
use productivitypro_app::updates::delta;
use productivitypro_app::updates::policy::DeltaOffer;
use productivitypro_delta::Method;
use tauri_plugin_updater::UpdaterExt;

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let [old_path, new_path, rest @ ..] = args.as_slice() else {
        eprintln!("usage: delta_rebuild OLD NEW [RUNS]");
        std::process::exit(2);
    };
    let runs: usize = rest.first().and_then(|r| r.parse().ok()).unwrap_or(3);
    let old = std::fs::read(old_path).expect("read OLD");
    let new = std::fs::read(new_path).expect("read NEW");
    let method = if new_path.ends_with(".deb") {
        Method::Deb
    } else {
        Method::Zstd
    };
    let started = Instant::now();
    let patch = productivitypro_delta::build(&old, &new, method).expect("patch builds");
    println!(
        "patch ({method}): {} bytes for a {}-byte artifact ({:.1}%), built in {}",
        patch.len(),
        new.len(),
        patch.len() as f64 * 100.0 / new.len() as f64,
        ms(started.elapsed())
    );
    let announced = DeltaOffer {
        from: "0.0.0".into(),
        url: "https://updates.invalid/patch".into(),
        size: patch.len() as u64,
        sha256: hex(&productivitypro_delta::sha256(&patch)),
        full_size: new.len() as u64,
        full_sha256: hex(&productivitypro_delta::sha256(&new)),
    };

    // A real `Update` from the plugin, holding the release's signature.
    let version = "99.0.0";
    let kp = minisign::KeyPair::generate_unencrypted_keypair().unwrap();
    let sig = minisign::sign(
        Some(&kp.pk),
        &kp.sk,
        Cursor::new(&new),
        Some(&format!(
            "timestamp:1700000000\tfile:artifact\tversion:{version}"
        )),
        None,
    )
    .unwrap()
    .to_string();
    let b64 = |s: String| base64::engine::general_purpose::STANDARD.encode(s);
    let pubkey = b64(kp.pk.to_box().unwrap().to_string());
    let mut ctx = tauri::test::mock_context(tauri::test::noop_assets());
    ctx.config_mut().plugins.0.insert(
        "updater".into(),
        serde_json::json!({ "pubkey": pubkey, "endpoints": [] }),
    );
    let app = tauri::test::mock_builder()
        .plugin(tauri_plugin_updater::Builder::new().build())
        .build(ctx)
        .expect("mock app");
    let updater = app
        .handle()
        .updater_builder()
        // Never asked: the update is restored from an answer below.
        .endpoints(vec!["https://updates.invalid/".parse().unwrap()])
        .expect("endpoint")
        .version_comparator(|_, _| true)
        .build()
        .expect("updater");
    let update = updater
        .restore_update(serde_json::json!({
            "version": version,
            "url": "https://updates.invalid/artifact",
            "signature": b64(sig),
        }))
        .expect("update")
        .expect("an update");

    let mut rebuild = Vec::new();
    let mut total = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        let bytes = delta::apply(&old, &patch, &announced).expect("rebuilds");
        let applied = t.elapsed();
        update.verify(&bytes).expect("verifies");
        rebuild.push(applied);
        total.push(t.elapsed());
        assert!(bytes == new);
    }
    rebuild.sort();
    total.sort();
    println!(
        "client, median of {runs}: rebuild (hashes + apply + result check) {}, + Update::verify {}",
        ms(rebuild[runs / 2]),
        ms(total[runs / 2])
    );
}
