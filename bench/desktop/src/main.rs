//! Issue 7's desktop figures, measured side by side with a bare Tauri
//! window built the same way (release, `tauri build`), on Xvfb:
//!
//! - process start → first meaningful paint (the task list painted; the
//!   bare window's page painted), empty vault and 10k tasks;
//! - idle memory (PSS from `/proc/*/smaps_rollup`) of each process tree;
//! - `.deb` size and the UI's gzipped JS + CSS;
//! - quick add → row visible and view switch with 10k tasks, in the real
//!   window through tauri-driver.
//!
//! Run it with `scripts/bench-desktop` (builds, then runs this inside
//! `scripts/with-keyring` and `xvfb-run`). Prints figures; asserts nothing.
//!
//!   bench-desktop [--runs N] [--idle SECS] [--switches N] [--adds N] [--no-webdriver] [--smaps]
//!
//! `--smaps` also prints, for the last start of each window, where its
//! memory is (PSS by mapping and process).

mod fixture;
mod interact;
mod webdriver;
mod window;

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};

use window::{Launch, TreeMemory};

const TASKS: usize = 10_000;

struct Opts {
    runs: usize,
    idle: Duration,
    switches: usize,
    adds: usize,
    webdriver: bool,
    smaps: bool,
}

fn opts() -> Result<Opts> {
    let mut o = Opts {
        runs: 10,
        idle: Duration::from_secs(5),
        switches: 20,
        adds: 200,
        webdriver: true,
        smaps: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut num = |name: &str| -> Result<usize> {
            args.next()
                .and_then(|v| v.parse().ok())
                .with_context(|| format!("{name} needs a number"))
        };
        match a.as_str() {
            "--runs" => o.runs = num("--runs")?.max(1),
            "--idle" => o.idle = Duration::from_secs(num("--idle")? as u64),
            "--switches" => o.switches = num("--switches")?.max(1),
            "--adds" => o.adds = num("--adds")?.max(1),
            "--no-webdriver" => o.webdriver = false,
            "--smaps" => o.smaps = true,
            // `cargo bench` passes --bench.
            "--bench" => {}
            other => bail!("unknown argument {other}; see the top of bench/desktop/src/main.rs"),
        }
    }
    Ok(o)
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Nearest-rank percentile.
fn pct(xs: &[f64], p: f64) -> f64 {
    let mut s = xs.to_vec();
    s.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * s.len() as f64).ceil() as usize;
    s[rank.clamp(1, s.len()) - 1]
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

struct Target {
    name: &'static str,
    launch: Launch,
    paints: Vec<f64>,
    memory: Vec<TreeMemory>,
}

fn file_size(path: &Path) -> Result<u64> {
    Ok(std::fs::metadata(path)
        .with_context(|| format!("{} (build it first: scripts/bench-desktop)", path.display()))?
        .len())
}

fn deb(root: &Path) -> Result<PathBuf> {
    newest_deb(&root.join("target/release/bundle/deb"))
}

/// The .deb written last: the bundle folder keeps packages of earlier
/// versions (release rehearsals), and the highest name is not the build
/// being measured.
fn newest_deb(dir: &Path) -> Result<PathBuf> {
    let mut debs: Vec<(std::time::SystemTime, PathBuf)> = std::fs::read_dir(dir)
        .with_context(|| format!("{} (scripts/tauri-cli build --bundles deb)", dir.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "deb"))
        .filter_map(|p| Some((std::fs::metadata(&p).ok()?.modified().ok()?, p)))
        .collect();
    debs.sort();
    debs.pop()
        .map(|(_, p)| p)
        .with_context(|| format!("no .deb in {}", dir.display()))
}

/// The UI's JS + CSS gzip total, as `ui/scripts/size.mjs` (the budget
/// check of the test command) prints it.
fn ui_gzip(root: &Path) -> Result<(u64, u64)> {
    let out = std::process::Command::new("node")
        .arg(root.join("ui/scripts/size.mjs"))
        .output()
        .context("running node ui/scripts/size.mjs")?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.starts_with("UI JS+CSS total:"))
        .with_context(|| format!("no total in size.mjs output: {text}"))?;
    let nums: Vec<u64> = line
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    match nums[..] {
        [raw, gz, ..] => Ok((raw, gz)),
        _ => bail!("cannot read {line}"),
    }
}

fn main() -> Result<()> {
    let o = opts()?;
    let root = root();
    if std::env::var_os("DISPLAY").is_none() {
        bail!("no DISPLAY: run under Xvfb (scripts/bench-desktop does)");
    }
    let app = root.join("target/release/productivitypro");
    let hello = root.join("target/release/productivitypro-hello-window");
    file_size(&app)?;
    file_size(&hello)?;
    let deb = deb(&root)?;
    let load_before = loadavg();

    let work = std::env::temp_dir().join(format!("pp-bench-desktop-{}", std::process::id()));
    std::fs::create_dir_all(&work)?;
    let empty = work.join("vault-empty");
    let full = work.join("vault-10k");
    let driven = work.join("vault-10k-webdriver");
    eprintln!("bench-desktop: vaults in {}", work.display());
    fixture::vault(&empty, 0)?;
    fixture::vault(&full, TASKS)?;
    fixture::vault(&driven, TASKS)?;

    let common = |data: Option<&Path>| {
        let mut env = vec![
            ("PRODUCTIVITYPRO_BENCH_MARKS".to_string(), "1".to_string()),
            (
                "PRODUCTIVITYPRO_KEYRING_SERVICE".into(),
                fixture::KEYRING_SERVICE.into(),
            ),
            ("PRODUCTIVITYPRO_TZ".into(), fixture::TZ.into()),
            // Xvfb has no GPU; WebKit's GL compositing only adds a software
            // renderer there. Same for every window measured.
            ("WEBKIT_DISABLE_COMPOSITING_MODE".into(), "1".into()),
        ];
        if let Some(d) = data {
            env.push(("PRODUCTIVITYPRO_DATA_DIR".into(), d.display().to_string()));
        }
        env
    };
    let mut targets = [
        Target {
            name: "bare Tauri window",
            launch: Launch {
                exe: hello.clone(),
                env: common(None),
                stderr: work.join("hello.stderr"),
            },
            paints: Vec::new(),
            memory: Vec::new(),
        },
        Target {
            name: "app, empty vault",
            launch: Launch {
                exe: app.clone(),
                env: common(Some(&empty)),
                stderr: work.join("app-empty.stderr"),
            },
            paints: Vec::new(),
            memory: Vec::new(),
        },
        Target {
            name: "app, 10k tasks",
            launch: Launch {
                exe: app.clone(),
                env: common(Some(&full)),
                stderr: work.join("app-10k.stderr"),
            },
            paints: Vec::new(),
            memory: Vec::new(),
        },
    ];

    // Round robin, so a change in the machine's load falls on all three;
    // round 0 warms the page cache and is not counted.
    for round in 0..=o.runs {
        for t in targets.iter_mut() {
            let mut running = t.launch.start(Duration::from_secs(60))?;
            let ms = running.to_mark.as_secs_f64() * 1000.0;
            std::thread::sleep(o.idle);
            let mem = window::tree_memory(running.pid())?;
            if o.smaps && round == o.runs {
                eprintln!("{}: PSS by mapping (KiB)", t.name);
                for (process, mapping, kib) in
                    window::smaps_breakdown(running.pid()).into_iter().take(25)
                {
                    eprintln!("  {kib:>8} {process:<16} {mapping}");
                }
            }
            running.stop();
            eprintln!(
                "round {round}: {:<18} first paint {ms:7.1} ms, idle PSS {:6.1} MiB",
                t.name,
                mib(mem.total_kib)
            );
            if round > 0 {
                t.paints.push(ms);
                t.memory.push(mem);
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    let interaction = if o.webdriver {
        let driver = root.join(".ci-tools/bin/tauri-driver");
        file_size(&driver)?;
        let mut env = common(Some(&driven));
        env.retain(|(k, _)| k != "PRODUCTIVITYPRO_BENCH_MARKS");
        Some(interact::run(
            &driver,
            &app,
            &env,
            &work.join("tauri-driver.log"),
            TASKS as u64,
            o.switches,
            o.adds,
        )?)
    } else {
        None
    };

    let deb_bytes = file_size(&deb)?;
    let (ui_raw, ui_gz) = ui_gzip(&root)?;
    let load_after = loadavg();

    println!(
        "\nDesktop figures (release, Xvfb), {}",
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC")
    );
    println!("load average before: {load_before}; after: {load_after}\n");
    println!("| | first paint median (ms) | p95 (ms) | idle PSS median (MiB) | of which app / WebKitWebProcess / WebKitNetworkProcess (MiB) |");
    println!("|---|---:|---:|---:|---|");
    let hello_pss = {
        let mut v: Vec<f64> = targets[0].memory.iter().map(|m| mib(m.total_kib)).collect();
        v.sort_by(f64::total_cmp);
        pct(&v, 50.0)
    };
    let mut full_pss = 0.0;
    let mut full_paint = 0.0;
    for t in &targets {
        let pss: Vec<f64> = t.memory.iter().map(|m| mib(m.total_kib)).collect();
        let median_pss = pct(&pss, 50.0);
        // The breakdown of the run whose total is the median.
        let median_run = t
            .memory
            .iter()
            .min_by(|a, b| {
                (mib(a.total_kib) - median_pss)
                    .abs()
                    .total_cmp(&(mib(b.total_kib) - median_pss).abs())
            })
            .expect("runs ≥ 1");
        let part = |name: &str| {
            median_run
                .by_comm
                .iter()
                .filter(|(c, _)| c.starts_with(name))
                .map(|(_, k)| *k)
                .sum::<u64>()
        };
        let app_name: String = t
            .launch
            .exe
            .file_name()
            .map(|n| n.to_string_lossy().chars().take(15).collect())
            .unwrap_or_default();
        println!(
            "| {} | {:.0} | {:.0} | {:.1} | {:.1} / {:.1} / {:.1} (others {:.1}) |",
            t.name,
            pct(&t.paints, 50.0),
            pct(&t.paints, 95.0),
            median_pss,
            mib(part(&app_name)),
            mib(part("WebKitWebProces")),
            mib(part("WebKitNetworkPr")),
            mib(median_run.total_kib
                - part(&app_name)
                - part("WebKitWebProces")
                - part("WebKitNetworkPr")),
        );
        if t.name == "app, 10k tasks" {
            full_pss = median_pss;
            full_paint = pct(&t.paints, 50.0);
        }
    }
    println!(
        "\n({} starts each after one warm-up, interleaved; PSS after {} s idle)\n",
        o.runs,
        o.idle.as_secs()
    );
    let verdict = |ok: bool| if ok { "met" } else { "missed" };
    let ratio = full_pss / hello_pss;
    println!("| target | measured | |");
    println!("|---|---|---|");
    println!(
        "| start → first paint with 10k tasks ≤ 1.0 s | {:.0} ms (median) | {} |",
        full_paint,
        verdict(full_paint <= 1000.0)
    );
    println!(
        "| idle PSS with 10k ≤ 1.3× bare window | {full_pss:.1} / {hello_pss:.1} MiB = {ratio:.2}× | {} |",
        verdict(ratio <= 1.3)
    );
    println!(
        "| .deb ≤ 10 MB | {:.2} MB ({}) | {} |",
        deb_bytes as f64 / 1e6,
        deb.file_name().unwrap_or_default().to_string_lossy(),
        verdict(deb_bytes <= 10_000_000)
    );
    println!(
        "| UI JS+CSS gzip ≤ 150 KB | {:.1} kB ({:.1} kB raw) | {} |",
        ui_gz as f64 / 1000.0,
        ui_raw as f64 / 1000.0,
        verdict(ui_gz <= 150_000)
    );
    if let Some(f) = interaction {
        let p99 = pct(&f.adds, 99.0);
        println!(
            "| quick add → row visible, p99 over {} adds ≤ 50 ms | p50 {:.1} ms, p99 {p99:.1} ms, max {:.1} ms | {} |",
            f.adds.len(),
            pct(&f.adds, 50.0),
            pct(&f.adds, 100.0),
            verdict(p99 <= 50.0)
        );
        let inbox99 = pct(&f.to_inbox, 99.0);
        println!(
            "| view switch Today → Inbox (10k rows) ≤ 100 ms | p50 {:.1} ms, p99 {inbox99:.1} ms (n={}) | {} |",
            pct(&f.to_inbox, 50.0),
            f.to_inbox.len(),
            verdict(inbox99 <= 100.0)
        );
        let today99 = pct(&f.to_today, 99.0);
        println!(
            "| view switch Inbox → Today (10k tasks loaded) ≤ 100 ms | p50 {:.1} ms, p99 {today99:.1} ms (n={}) | {} |",
            pct(&f.to_today, 50.0),
            f.to_today.len(),
            verdict(today99 <= 100.0)
        );
    }
    let _ = std::fs::remove_dir_all(&work);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::newest_deb;

    #[test]
    fn the_deb_measured_is_the_one_built_last_not_the_highest_version() {
        let dir = std::env::temp_dir().join(format!("pp-bench-deb-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let old = dir.join("ProductivityPro_0.2.0_amd64.deb");
        std::fs::write(&old, b"old").unwrap();
        let past = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
        std::fs::File::options()
            .write(true)
            .open(&old)
            .unwrap()
            .set_modified(past)
            .unwrap();
        let built = dir.join("ProductivityPro_0.1.0_amd64.deb");
        std::fs::write(&built, b"new").unwrap();
        let found = newest_deb(&dir);
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(found.unwrap(), built);
    }
}
