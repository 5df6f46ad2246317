//! Quick add and view switches in the real window, driven through
//! tauri-driver + WebKitWebDriver. Each measurement is taken in the page
//! with `performance.now()`: from the Enter keydown (or the click) to the
//! frame that shows the new row (or the new view's rows) being painted —
//! a MutationObserver sees the DOM change, then one animation frame and a
//! task queued from it. The WebDriver round trips are not in the figures.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

use crate::webdriver::{Session, ENTER};

/// Installs a probe that starts at the next click and resolves when the
/// view titled `title` shows between `min` and `max` rows.
const VIEW_PROBE: &str = r#"
const [title, min, max] = arguments;
let resolve;
window.__ppBench = { result: new Promise((r) => (resolve = r)) };
const ready = () => {
  const h = document.querySelector('[data-testid="view-title"]');
  if (!h || h.textContent.trim() !== title) return false;
  const list = document.querySelector('[data-testid="task-list"]');
  if (list) {
    const n = Number(list.dataset.total);
    return n >= min && n <= max && !!list.querySelector('[data-testid="task-row"]');
  }
  return min === 0 && !!document.querySelector('[data-testid="empty-state"]');
};
document.addEventListener('click', () => {
  const start = performance.now();
  const obs = new MutationObserver(() => {
    if (!ready()) return;
    obs.disconnect();
    requestAnimationFrame(() => setTimeout(() => resolve(performance.now() - start), 0));
  });
  obs.observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true });
}, { capture: true, once: true });
"#;

/// Installs a probe that starts at the Enter keydown in quick add and
/// resolves when a row titled `title` is painted inside the list's
/// visible area.
const ADD_PROBE: &str = r#"
const [title] = arguments;
let resolve;
window.__ppBench = { result: new Promise((r) => (resolve = r)) };
const input = document.querySelector('[data-testid="quick-add"]');
const list = document.querySelector('[data-testid="task-list"]');
if (list) list.scrollTop = 0;
const visible = () => {
  const view = document.querySelector('[data-testid="task-list"]');
  if (!view) return false;
  const box = view.getBoundingClientRect();
  for (const t of view.querySelectorAll('[data-testid="task-title"]')) {
    if (!t.textContent.trim().startsWith(title)) continue;
    const r = t.getBoundingClientRect();
    if (r.height > 0 && r.bottom > box.top && r.top < box.bottom) return true;
  }
  return false;
};
const onKey = (e) => {
  if (e.key !== 'Enter' || e.target !== input) return;
  document.removeEventListener('keydown', onKey, true);
  const start = performance.now();
  const obs = new MutationObserver(() => {
    if (!visible()) return;
    obs.disconnect();
    requestAnimationFrame(() => setTimeout(() => resolve(performance.now() - start), 0));
  });
  obs.observe(document.body, { subtree: true, childList: true, characterData: true });
};
document.addEventListener('keydown', onKey, true);
"#;

const WAIT: &str = r#"
const done = arguments[arguments.length - 1];
window.__ppBench.result.then(done);
"#;

const STATE: &str = r#"
const h = document.querySelector('[data-testid="view-title"]');
const l = document.querySelector('[data-testid="task-list"]');
return [h ? h.textContent.trim() : '', l ? Number(l.dataset.total) : -1];
"#;

const SORT_NEWEST: &str = r#"
const s = document.querySelector('[data-testid="sort-select"]');
s.value = 'created';
s.dispatchEvent(new Event('change', { bubbles: true }));
"#;

pub struct Figures {
    /// Today → Inbox (all 10k tasks), ms.
    pub to_inbox: Vec<f64>,
    /// Inbox → Today, ms.
    pub to_today: Vec<f64>,
    /// Enter in quick add → the new row painted, ms.
    pub adds: Vec<f64>,
}

fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        // SAFETY: kill(2) on our own child (tauri-driver), not yet reaped.
        unsafe { libc::kill(self.0.id() as libc::pid_t, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn view_ms(s: &Session, nav: &str, title: &str, min: u64, max: u64) -> Result<f64> {
    s.execute(VIEW_PROBE, json!([title, min, max]))?;
    let el = s.element(&format!("[data-testid=\"{nav}\"]"))?;
    s.click(&el)?;
    let v = s.execute_async(WAIT, json!([]))?;
    v.as_f64()
        .with_context(|| format!("switch to {title}: no time in {v}"))
}

fn add_title(i: usize) -> String {
    // Letters only, so the quick-add grammar reads no date or number.
    let a = (b'a' + (i / 26 % 26) as u8) as char;
    let b = (b'a' + (i % 26) as u8) as char;
    format!("Bench add x{a}{b}")
}

/// Opens the app on the vault in `env` (10k tasks in the Inbox), then
/// measures `switches` switches each way and `adds` quick adds.
pub fn run(
    tauri_driver: &Path,
    app: &Path,
    env: &[(String, String)],
    log: &Path,
    tasks: u64,
    switches: usize,
    adds: usize,
) -> Result<Figures> {
    let port = free_port()?;
    let native = free_port()?;
    let log_file = std::fs::File::create(log)?;
    let driver = Driver(
        Command::new(tauri_driver)
            .args([
                "--port",
                &port.to_string(),
                "--native-port",
                &native.to_string(),
            ])
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(log_file.try_clone()?)
            .stderr(log_file)
            .spawn()
            .with_context(|| format!("starting {}", tauri_driver.display()))?,
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            bail!(
                "tauri-driver did not listen on {port} (log: {})",
                log.display()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let s = Session::new(port, &app.display().to_string())?;
    let result = measure(&s, tasks, switches, adds);
    let closed = s.close();
    drop(driver);
    let figures = result?;
    closed?;
    Ok(figures)
}

fn wait_for(s: &Session, title: &str, min: u64) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let v: Value = s.execute(STATE, json!([]))?;
        if v[0] == title && v[1].as_i64().unwrap_or(-1) >= min as i64 {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("the window did not show {title} with {min} rows (state {v})");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn measure(s: &Session, tasks: u64, switches: usize, adds: usize) -> Result<Figures> {
    wait_for(s, "Inbox", tasks)?;
    // Settle after start-up (the first idle reminders check, timers).
    std::thread::sleep(Duration::from_secs(2));
    let mut f = Figures {
        to_inbox: Vec::new(),
        to_today: Vec::new(),
        adds: Vec::new(),
    };
    // Two unrecorded rounds first: the first switches compile the views'
    // code paths in the page's JIT.
    for round in 0..switches + 2 {
        let today = view_ms(s, "nav-today", "Today", 0, tasks - 1)?;
        let inbox = view_ms(s, "nav-inbox", "Inbox", tasks, u64::MAX)?;
        if round >= 2 {
            f.to_today.push(today);
            f.to_inbox.push(inbox);
        }
    }
    // Newest first, so each new task's row is at the top, in view.
    s.execute(SORT_NEWEST, json!([]))?;
    std::thread::sleep(Duration::from_secs(1));
    wait_for(s, "Inbox", tasks)?;
    let input = s.element("[data-testid=\"quick-add\"]")?;
    for i in 0..adds {
        let title = add_title(i);
        s.execute(ADD_PROBE, json!([title]))?;
        s.send_keys(&input, &format!("{title}{ENTER}"))?;
        let v = s.execute_async(WAIT, json!([]))?;
        f.adds.push(
            v.as_f64()
                .with_context(|| format!("add {i}: no time in {v}"))?,
        );
    }
    Ok(f)
}
