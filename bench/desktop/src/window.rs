//! One start of a window process (the app or the bare window): spawn,
//! wait for its first-paint mark on stdout, measure the memory of its
//! process tree, stop it.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// The line the app and the bare window print after their first paint
/// (`PRODUCTIVITYPRO_BENCH_MARKS=1`).
pub const MARK: &str = "productivitypro-bench-mark first-paint";

pub struct Launch {
    pub exe: PathBuf,
    pub env: Vec<(String, String)>,
    /// Where the process's stderr goes (WebKit and GTK warnings).
    pub stderr: PathBuf,
}

pub struct Running {
    child: Child,
    /// From just before `spawn` to the mark line's arrival.
    pub to_mark: Duration,
}

impl Launch {
    /// Spawns the process and waits up to `timeout` for the mark.
    pub fn start(&self, timeout: Duration) -> Result<Running> {
        let stderr = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.stderr)
            .with_context(|| format!("opening {}", self.stderr.display()))?;
        let mut cmd = Command::new(&self.exe);
        cmd.envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr);
        let started = Instant::now();
        let mut child = cmd
            .spawn()
            .with_context(|| format!("starting {}", self.exe.display()))?;
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if line.trim() == MARK {
                    let _ = tx.send(Instant::now());
                }
            }
        });
        let mut running = Running {
            child,
            to_mark: Duration::ZERO,
        };
        match rx.recv_timeout(timeout) {
            Ok(at) => {
                running.to_mark = at - started;
                Ok(running)
            }
            Err(_) => {
                let status = running.child.try_wait().ok().flatten();
                running.stop();
                bail!(
                    "{} printed no first-paint mark within {timeout:?} (exit status {status:?}; stderr in {})",
                    self.exe.display(),
                    self.stderr.display()
                )
            }
        }
    }
}

impl Running {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGTERM (the app exits the normal way), then SIGKILL for whatever
    /// of its tree is left after 10 s.
    pub fn stop(&mut self) {
        let tree = descendants(self.pid());
        // SAFETY: kill(2) on our own child's pid, which we have not reaped.
        unsafe { libc::kill(self.pid() as libc::pid_t, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        // The WebKit processes follow their parent; make sure of it.
        let deadline = Instant::now() + Duration::from_secs(5);
        for pid in tree.into_iter().filter(|&p| p != self.pid()) {
            while alive(pid) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            if alive(pid) {
                // SAFETY: a process we started (a descendant of our child).
                unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
            }
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.stop();
        }
    }
}

fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// `root` and every process below it (children of children too), from
/// the parent pids in `/proc/*/stat`.
pub fn descendants(root: u32) -> Vec<u32> {
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for e in dir.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            if let Some(ppid) = stat_ppid(pid) {
                children.entry(ppid).or_default().push(pid);
            }
        }
    }
    let mut out = vec![root];
    let mut i = 0;
    while i < out.len() {
        if let Some(c) = children.get(&out[i]) {
            out.extend(c);
        }
        i += 1;
    }
    out
}

fn stat_ppid(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "pid (comm) state ppid …": comm may contain spaces and parentheses.
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split_whitespace().nth(1)?.parse().ok()
}

fn comm(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "?".into())
}

/// Proportional set size in KiB, from `/proc/<pid>/smaps_rollup`.
fn pss_kib(pid: u32) -> Result<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))
        .with_context(|| format!("reading /proc/{pid}/smaps_rollup"))?;
    for line in text.lines() {
        if let Some(v) = line.strip_prefix("Pss:") {
            let kib = v.trim().trim_end_matches("kB").trim();
            return kib.parse().context("parsing Pss");
        }
    }
    bail!("no Pss line in /proc/{pid}/smaps_rollup")
}

/// PSS of a process tree, in total and by command name.
pub struct TreeMemory {
    pub total_kib: u64,
    pub by_comm: BTreeMap<String, u64>,
}

pub fn tree_memory(root: u32) -> Result<TreeMemory> {
    let mut by_comm = BTreeMap::new();
    let mut total = 0;
    for pid in descendants(root) {
        let kib = pss_kib(pid)?;
        total += kib;
        *by_comm.entry(comm(pid)).or_insert(0) += kib;
    }
    Ok(TreeMemory {
        total_kib: total,
        by_comm,
    })
}

/// Where a process tree's PSS is, by mapping (a library, `[heap]`,
/// anonymous memory), largest first: `--smaps` prints it.
pub fn smaps_breakdown(root: u32) -> Vec<(String, String, u64)> {
    let mut out = Vec::new();
    for pid in descendants(root) {
        let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/smaps")) else {
            continue;
        };
        let mut by_name: BTreeMap<String, u64> = BTreeMap::new();
        let mut name = String::new();
        for line in text.lines() {
            let mut fields = line.split_whitespace();
            let first = fields.next().unwrap_or("");
            if first.contains('-') && !first.ends_with(':') {
                // "start-end perms offset dev inode [path]"
                name = fields.nth(4).unwrap_or("[anon]").to_string();
            } else if first == "Pss:" {
                let kib: u64 = fields.next().and_then(|v| v.parse().ok()).unwrap_or(0);
                *by_name.entry(name.clone()).or_insert(0) += kib;
            }
        }
        let process = comm(pid);
        out.extend(by_name.into_iter().map(|(n, k)| (process.clone(), n, k)));
    }
    out.sort_by_key(|e| std::cmp::Reverse(e.2));
    out
}
