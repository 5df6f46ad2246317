//! The real `productivitypro` binary on a private Xvfb display, in the
//! keyring session's D-Bus: single instance (a second launch focuses the
//! first, `--quick-add` opens quick add there), the global shortcut (a key
//! press from `xdotool`), deep links (the handler registered for this
//! binary, a link forwarded to the running instance), autostarted launches
//! staying in the tray, the tray itself, and the window state saved on a
//! normal exit (SIGTERM).
//!
//! What the app did is read from its log file (ids and codes only), so
//! this needs no UI: `make test` builds the app with the UI embedded
//! (scripts/build-workspace), a plain development build shows an error page
//! without the Vite server; either works here. Needs Xvfb and xdotool
//! (`scripts/bootstrap --test`).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const IDENT: &str = "app.productivitypro.desktop";

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn xvfb() -> (Killed, String) {
    for n in 120..160 {
        if Path::new(&format!("/tmp/.X11-unix/X{n}")).exists() {
            continue;
        }
        let display = format!(":{n}");
        let x = Killed(
            Command::new("Xvfb")
                .args([&display, "-nolisten", "tcp", "-screen", "0", "1280x800x24"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("Xvfb (run scripts/bootstrap --test)"),
        );
        let start = Instant::now();
        while !Path::new(&format!("/tmp/.X11-unix/X{n}")).exists() {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "Xvfb did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        return (x, display);
    }
    panic!("no free display number");
}

struct Desk {
    home: tempfile::TempDir,
    display: String,
    _x: Killed,
}

impl Desk {
    fn new() -> Desk {
        let (x, display) = xvfb();
        Desk {
            home: tempfile::tempdir().unwrap(),
            display,
            _x: x,
        }
    }

    fn cmd(&self, program: &str) -> Command {
        let home = self.home.path();
        let mut c = Command::new(program);
        c.env("HOME", home)
            .env("XDG_DATA_HOME", home.join(".local/share"))
            .env("XDG_CONFIG_HOME", home.join(".config"))
            .env("DISPLAY", &self.display)
            .env("PRODUCTIVITYPRO_DATA_DIR", home.join("vault"))
            .env(
                "PRODUCTIVITYPRO_KEYRING_SERVICE",
                "ProductivityPro-binary-test",
            )
            .env("WEBKIT_DISABLE_COMPOSITING_MODE", "1")
            .env_remove("XDG_SESSION_TYPE")
            .env_remove("WAYLAND_DISPLAY")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        c
    }

    fn app(&self, args: &[&str]) -> Command {
        let mut c = self.cmd(env!("CARGO_BIN_EXE_productivitypro"));
        c.args(args);
        c
    }

    fn log(&self) -> String {
        let dir = self
            .home
            .path()
            .join(".local/share")
            .join(IDENT)
            .join("logs");
        let mut all = String::new();
        if let Ok(entries) = std::fs::read_dir(&dir) {
            for e in entries.flatten() {
                all.push_str(&std::fs::read_to_string(e.path()).unwrap_or_default());
            }
        }
        all
    }

    /// Waits until the log has `n` lines containing `what`.
    fn wait_log(&self, what: &str, n: usize) -> String {
        let start = Instant::now();
        loop {
            let log = self.log();
            if log.matches(what).count() >= n {
                return log;
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "log never had {n}× `{what}`:\n{log}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn visible_windows(&self) -> usize {
        let out = self
            .cmd("xdotool")
            .args(["search", "--onlyvisible", "--name", "ProductivityPro"])
            .stdout(Stdio::piped())
            .output()
            .expect("xdotool (run scripts/bootstrap --test)");
        String::from_utf8_lossy(&out.stdout).lines().count()
    }
}

fn wait_exit(c: &mut Child) -> std::process::ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(s) = c.try_wait().unwrap() {
            return s;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "it did not exit");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn the_desktop_integrations_work_on_the_real_binary() {
    assert!(
        std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some(),
        "run inside scripts/with-keyring (a session bus)"
    );
    let d = Desk::new();
    let mut first = Killed(d.app(&[]).spawn().unwrap());
    let log = d.wait_log("global shortcut registered", 1);
    assert!(log.contains("starting"), "{log}");
    assert!(!log.contains("no tray icon"), "the tray exists:\n{log}");
    let start = Instant::now();
    while d.visible_windows() == 0 {
        assert!(start.elapsed() < Duration::from_secs(30), "no window shown");
        std::thread::sleep(Duration::from_millis(200));
    }

    // A second launch hands over to the first and exits.
    let mut second = d.app(&["--quick-add"]).spawn().unwrap();
    assert!(wait_exit(&mut second).success());
    let log = d.wait_log("quick add requested", 1);
    assert!(log.contains("second launch quick_add=true"), "{log}");

    // The global shortcut, pressed anywhere.
    let pressed = d
        .cmd("xdotool")
        .args(["key", "ctrl+shift+space"])
        .status()
        .unwrap();
    assert!(pressed.success());
    d.wait_log("with_text=false", 2);

    // A link: the handler is registered for this binary, and a launch
    // with a link reaches the running instance as quick-add text.
    let apps = d.home.path().join(".local/share/applications");
    let handler: Vec<PathBuf> = std::fs::read_dir(&apps)
        .map(|r| r.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    let handler = handler
        .iter()
        .find(|p| {
            std::fs::read_to_string(p)
                .unwrap_or_default()
                .contains("x-scheme-handler/productivitypro")
        })
        .unwrap_or_else(|| panic!("no link handler in {}: {handler:?}", apps.display()));
    assert!(
        std::fs::read_to_string(handler).unwrap().contains("%u"),
        "the handler passes the link"
    );
    let mut link = d
        .app(&["productivitypro://add?title=Buy%20milk%20tomorrow"])
        .spawn()
        .unwrap();
    assert!(wait_exit(&mut link).success());
    let log = d.wait_log("with_text=true", 1);
    assert!(!log.contains("milk"), "no link text in the log");

    // A normal exit saves the window state.
    terminate(first.0.id());
    assert!(wait_exit(&mut first.0).success());
    let state = d
        .home
        .path()
        .join(".config")
        .join(IDENT)
        .join(".window-state.json");
    let saved =
        std::fs::read_to_string(&state).unwrap_or_else(|e| panic!("{}: {e}", state.display()));
    assert!(saved.contains("\"main\""), "{saved}");
    d.wait_log("exit on signal", 1);

    // Started by the session (autostart): in the tray, no window.
    let mut auto = Killed(d.app(&["--autostarted"]).spawn().unwrap());
    d.wait_log("autostarted=true", 1);
    d.wait_log("global shortcut registered", 2);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        d.visible_windows(),
        0,
        "an autostarted app stays in the tray"
    );
    terminate(auto.0.id());
    assert!(wait_exit(&mut auto.0).success());
}

/// SIGTERM, as a logout or `kill` sends it.
fn terminate(pid: u32) {
    let ok = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
}
