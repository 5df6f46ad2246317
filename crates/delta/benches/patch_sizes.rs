//! Delta patch figures for two real artifacts (issue 10, docs/benchmarks.md):
//! per method the patch size, its share of the full artifact, build time,
//! apply time, and apply + minisign verification of the rebuilt artifact
//! (a throwaway key signs the new artifact the way `pprelease sign` does).
//! Prints numbers; asserts only that every patch rebuilds the artifact.
//!
//!   cargo bench -p productivitypro-delta --bench patch_sizes -- OLD NEW [RUNS]

use std::time::{Duration, Instant};

use productivitypro_delta::{apply, build, Method};
use productivitypro_protocol::signature;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
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
        eprintln!("usage: patch_sizes OLD NEW [RUNS]");
        std::process::exit(2);
    };
    let runs: usize = rest.first().and_then(|r| r.parse().ok()).unwrap_or(3);
    let old = std::fs::read(old_path).expect("read OLD");
    let new = std::fs::read(new_path).expect("read NEW");
    let file_name = std::path::Path::new(new_path)
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();

    let kp = minisign::KeyPair::generate_unencrypted_keypair().unwrap();
    let trusted = signature::trusted_comment(1_700_000_000, &file_name, "0.0.0");
    let sig_text = minisign::sign(
        Some(&kp.pk),
        &kp.sk,
        std::io::Cursor::new(&new),
        Some(&trusted),
        None,
    )
    .unwrap()
    .to_string();
    let key = signature::parse_public_key(&kp.pk.to_box().unwrap().to_string()).unwrap();

    println!(
        "old {} ({} bytes), new {} ({} bytes), median of {runs} runs",
        old_path,
        old.len(),
        new_path,
        new.len()
    );
    println!(
        "| method | patch bytes | % of full | build | apply | apply + verify |\n|---|---:|---:|---:|---:|---:|"
    );
    for method in Method::ALL {
        let mut builds = Vec::new();
        let mut patch = Vec::new();
        let mut refused = None;
        for _ in 0..runs {
            let t = Instant::now();
            match build(&old, &new, method) {
                Ok(p) => patch = p,
                Err(e) => {
                    refused = Some(e);
                    break;
                }
            }
            builds.push(t.elapsed());
        }
        if let Some(e) = refused {
            println!("| {method} | not built: {} ({e}) | | | | |", e.code());
            continue;
        }
        let mut applies = Vec::new();
        let mut verified = Vec::new();
        for _ in 0..runs {
            let t = Instant::now();
            let rebuilt = apply(&old, &patch).expect("apply");
            applies.push(t.elapsed());
            signature::verify_bytes(&key, &sig_text, &file_name, &rebuilt).expect("verify");
            verified.push(t.elapsed());
            assert!(rebuilt == new, "{method} did not rebuild the artifact");
        }
        println!(
            "| {method} | {} | {:.1}% | {} | {} | {} |",
            patch.len(),
            100.0 * patch.len() as f64 / new.len() as f64,
            ms(median(builds)),
            ms(median(applies)),
            ms(median(verified)),
        );
    }
}
