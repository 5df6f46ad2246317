//! Just enough of the W3C WebDriver protocol to drive the real window
//! through tauri-driver (which forwards to WebKitWebDriver): a session,
//! scripts, elements, clicks and keys. HTTP/1.1 on loopback, one request
//! per connection.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use serde_json::{json, Value};

/// The key WebDriver sends for Enter.
pub const ENTER: &str = "\u{E007}";
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

pub struct Session {
    port: u16,
    id: String,
}

/// Whether `raw` holds a whole answer: headers, then `Content-Length`
/// bytes or a chunked body up to its last chunk.
fn complete(raw: &[u8]) -> Option<usize> {
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
    let body = &raw[split + 4..];
    if head.contains("transfer-encoding: chunked") {
        return body.ends_with(b"0\r\n\r\n").then_some(split);
    }
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    (body.len() >= len).then_some(split)
}

fn request(port: u16, method: &str, path: &str, body: Option<&Value>) -> Result<Value> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))
        .with_context(|| format!("connecting to the WebDriver server on port {port}"))?;
    stream.set_read_timeout(Some(Duration::from_secs(180)))?;
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    // No `Connection: close`: tauri-driver would forward it to
    // WebKitWebDriver, which then drops the connection tauri-driver pools.
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut raw = Vec::new();
    let mut buf = [0u8; 64 * 1024];
    let split = loop {
        if let Some(split) = complete(&raw) {
            break split;
        }
        let n = stream
            .read(&mut buf)
            .with_context(|| format!("{method} {path}: reading the answer"))?;
        if n == 0 {
            bail!(
                "{method} {path}: connection closed after {} bytes",
                raw.len()
            );
        }
        raw.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let mut payload = raw[split + 4..].to_vec();
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| anyhow!("{method} {path}: bad status line"))?;
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        payload = dechunk(&payload)?;
    }
    let v: Value = serde_json::from_slice(&payload)
        .with_context(|| format!("{method} {path}: answer is not JSON (HTTP {status})"))?;
    if status >= 400 {
        bail!("{method} {path}: HTTP {status}: {}", v["value"]);
    }
    Ok(v["value"].clone())
}

fn dechunk(mut b: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let eol = b
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or_else(|| anyhow!("bad chunk"))?;
        let size_text = String::from_utf8_lossy(&b[..eol]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .context("bad chunk size")?;
        b = &b[eol + 2..];
        if size == 0 {
            return Ok(out);
        }
        if b.len() < size + 2 {
            bail!("short chunk");
        }
        out.extend_from_slice(&b[..size]);
        b = &b[size + 2..];
    }
}

impl Session {
    /// A session whose browser is `application` (tauri-driver starts it).
    pub fn new(port: u16, application: &str) -> Result<Session> {
        let caps = json!({
            "capabilities": { "alwaysMatch": { "tauri:options": { "application": application } } }
        });
        let v = request(port, "POST", "/session", Some(&caps))?;
        let id = v["sessionId"]
            .as_str()
            .ok_or_else(|| anyhow!("no session id in {v}"))?
            .to_string();
        let s = Session { port, id };
        s.post("timeouts", &json!({ "script": 120_000 }))?;
        Ok(s)
    }

    fn post(&self, path: &str, body: &Value) -> Result<Value> {
        request(
            self.port,
            "POST",
            &format!("/session/{}/{path}", self.id),
            Some(body),
        )
    }

    pub fn execute(&self, script: &str, args: Value) -> Result<Value> {
        self.post("execute/sync", &json!({ "script": script, "args": args }))
    }

    /// A script whose last argument is the callback that ends it.
    pub fn execute_async(&self, script: &str, args: Value) -> Result<Value> {
        self.post("execute/async", &json!({ "script": script, "args": args }))
    }

    pub fn element(&self, css: &str) -> Result<String> {
        let v = self.post("element", &json!({ "using": "css selector", "value": css }))?;
        v[ELEMENT_KEY]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| anyhow!("no element for {css}: {v}"))
    }

    pub fn click(&self, element: &str) -> Result<()> {
        self.post(&format!("element/{element}/click"), &json!({}))?;
        Ok(())
    }

    pub fn send_keys(&self, element: &str, text: &str) -> Result<()> {
        self.post(
            &format!("element/{element}/value"),
            &json!({ "text": text }),
        )?;
        Ok(())
    }

    pub fn close(self) -> Result<()> {
        request(self.port, "DELETE", &format!("/session/{}", self.id), None)?;
        Ok(())
    }
}
