//! A hostile server: a proxy in front of the real service that drops,
//! replays, reorders, rewinds, withholds, swaps or alters what a device
//! pulls. Each trick is caught by the reference client with its own code,
//! nothing from the refused page is merged, and the device syncs normally
//! once the proxy behaves.

mod common;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use common::{now_ms, Device, Harness};
use productivitypro_sync_protocol::api::{PullPage, PulledBatch};
use productivitypro_sync_protocol::client::{MemoryDevice, SyncClient};
use productivitypro_sync_protocol::RecordId;
use serde_json::json;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Trick {
    Honest,
    Drop,
    Replay,
    Reorder,
    Rewind,
    Withhold,
    SwapDevice,
    SwapAccount,
    Tamper,
}

struct Proxy {
    upstream: String,
    http: reqwest::Client,
    trick: Mutex<Trick>,
    /// Every batch served so far, to replay or transplant later.
    seen: Mutex<Vec<PulledBatch>>,
    /// A batch of another account, to transplant.
    foreign: Mutex<Option<PulledBatch>>,
}

fn rig(page: &mut PullPage, trick: Trick, p: &Proxy) {
    let first_cursor = page.batches.first().map_or(page.next, |b| b.cursor);
    match trick {
        Trick::Honest => {}
        Trick::Drop => {
            page.batches.remove(0);
        }
        Trick::Replay => {
            let old = p.seen.lock().unwrap()[0].batch.clone();
            page.batches.insert(
                0,
                PulledBatch {
                    cursor: first_cursor,
                    batch: old,
                },
            );
            for (i, b) in page.batches.iter_mut().enumerate() {
                b.cursor = first_cursor + i as u64;
            }
        }
        Trick::Reorder => {
            page.batches.swap(0, 1);
            page.batches[0].cursor = first_cursor;
            page.batches[1].cursor = first_cursor + 1;
        }
        Trick::Rewind => {
            for h in page.devices.values_mut() {
                h.seq = 1;
            }
        }
        Trick::Withhold => {
            // Hide device A's new batches, keep C's (which has seen them).
            let c = page.batches.last().unwrap().batch.device;
            page.batches.retain(|b| b.batch.device == c);
            let a = p.seen.lock().unwrap()[0].batch.device;
            let known = p
                .seen
                .lock()
                .unwrap()
                .iter()
                .filter(|b| b.batch.device == a)
                .count() as u64;
            if let Some(h) = page.devices.get_mut(&a) {
                h.seq = known;
            }
        }
        Trick::SwapDevice => {
            let other = page.batches.last().unwrap().batch.device;
            page.batches[0].batch.device = other;
        }
        Trick::SwapAccount => {
            let mut f = p.foreign.lock().unwrap().clone().unwrap();
            f.cursor = first_cursor;
            page.batches[0] = f;
        }
        Trick::Tamper => {
            page.batches[0].batch.ciphertext[5] ^= 0x40;
        }
    }
}

async fn forward(
    State(p): State<Arc<Proxy>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path_and_query().map_or("/", |x| x.as_str());
    let mut rb = p
        .http
        .request(method.clone(), format!("{}{path}", p.upstream))
        .body(body);
    for (k, v) in headers.iter() {
        if k == "authorization" || k == "content-type" || k == "pp-sync-protocol" {
            rb = rb.header(k, v);
        }
    }
    let r = rb.send().await.unwrap();
    let status = StatusCode::from_u16(r.status().as_u16()).unwrap();
    let bytes = r.bytes().await.unwrap();
    if method == Method::GET && uri.path() == "/v1/batches" && status == StatusCode::OK {
        let mut page: PullPage = serde_json::from_slice(&bytes).unwrap();
        let trick = *p.trick.lock().unwrap();
        if trick == Trick::Honest {
            p.seen.lock().unwrap().extend(page.batches.iter().cloned());
        } else if !page.batches.is_empty() {
            rig(&mut page, trick, &p);
        }
        return (status, axum::Json(page)).into_response();
    }
    (status, [("content-type", "application/json")], bytes).into_response()
}

async fn proxy(upstream: &str) -> (SocketAddr, Arc<Proxy>) {
    let p = Arc::new(Proxy {
        upstream: upstream.to_string(),
        http: reqwest::Client::new(),
        trick: Mutex::new(Trick::Honest),
        seen: Mutex::new(Vec::new()),
        foreign: Mutex::new(None),
    });
    let app = axum::Router::new().fallback(forward).with_state(p.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr, p)
}

fn edit(d: &mut Device, n: u8) {
    d.set(
        "task",
        RecordId([n; 16]),
        "title",
        json!(format!("task {n}")),
        now_ms(),
    )
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_trick_of_a_hostile_server_is_caught_and_nothing_is_merged() {
    let tmp = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/sync.db", tmp.path().display());
    let h = Harness::start(&db).await;
    // A batch of another account, for the transplant.
    let (xl, xs) = h.signup().await;
    let mut x = h.device(&xs);
    edit(&mut x, 99);
    x.sync().await.unwrap();
    let xr = h.device(&h.login(xl).await);
    let foreign = h
        .client
        .pull(&xr.token, 0, None)
        .await
        .unwrap()
        .batches
        .remove(0);

    for (trick, code) in [
        (Trick::Drop, "sync_dropped"),
        (Trick::Replay, "sync_replayed"),
        (Trick::Reorder, "sync_reordered"),
        (Trick::Rewind, "sync_rolled_back"),
        (Trick::Withhold, "sync_withheld"),
        (Trick::SwapDevice, "sync_device_swapped"),
        (Trick::SwapAccount, "sync_foreign_account"),
        (Trick::Tamper, "sync_tampered"),
    ] {
        let (addr, p) = proxy(&h.base).await;
        *p.foreign.lock().unwrap() = Some(foreign.clone());
        let (login, sa) = h.signup().await;
        let mut a = h.device(&sa);
        let mut c = h.device(&h.login(login).await);
        let sb = h.login(login).await;
        let mut b = MemoryDevice::new(
            SyncClient::new(&format!("http://{addr}")),
            &sb.session,
            sb.key.clone(),
            common::rng(),
        );
        // Two batches of A, seen honestly by B.
        for n in [1, 2] {
            edit(&mut a, n);
            a.sync().await.unwrap();
        }
        b.sync().await.unwrap();
        // Two more of A, then one of C that has seen them (it claims A's head).
        for n in [3, 4] {
            edit(&mut a, n);
            a.sync().await.unwrap();
        }
        c.sync().await.unwrap();
        edit(&mut c, 5);
        c.sync().await.unwrap();

        let (view, cursor) = (b.replica.view(), b.chain.cursor);
        *p.trick.lock().unwrap() = trick;
        let err = b.sync().await.unwrap_err();
        assert_eq!(err.code(), code, "{trick:?}: {err}");
        assert_eq!(b.replica.view(), view, "{trick:?}: nothing merged");
        assert_eq!(b.chain.cursor, cursor, "{trick:?}: the cursor did not move");
        // An honest server again: B catches up fully.
        *p.trick.lock().unwrap() = Trick::Honest;
        b.sync().await.unwrap();
        a.sync().await.unwrap();
        assert_eq!(b.replica.view(), a.replica.view(), "{trick:?}: recovers");
        assert_eq!(b.replica.view().len(), 5);
    }
    h.stop().await;
}
