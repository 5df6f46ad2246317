//! `GET /v1/notifications`: a WebSocket per online device carrying only the
//! account's head (`{"type":"head","head":N}`), so the device pulls within
//! moments of another device's push. Each socket holds one `watch`
//! receiver and its task; coalescing means a burst of pushes costs one
//! notice, not one per batch.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use productivitypro_sync_protocol::api::Notice;

use crate::auth::{authenticate, Caller};
use crate::error::{ApiResult, Error};
use crate::routes::St;
use crate::server::AppState;

/// Close codes in the application range (4000–4999).
pub const CLOSE_SIGNED_OUT: u16 = 4001;
pub const CLOSE_ACCOUNT_DELETED: u16 = 4002;
pub const CLOSE_IDLE: u16 = 4003;

pub async fn notifications(
    State(state): St,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> ApiResult<Response> {
    let c = authenticate(&state, &headers).await?;
    let upgrade = upgrade.map_err(|e| {
        Error::of(
            "invalid_request",
            format!("this endpoint is a WebSocket; send an upgrade request ({e})"),
        )
    })?;
    let rx = state.hub.subscribe(c.account);
    // The receiver just made counts itself.
    if state.hub.receivers(c.account) > state.config.limits.max_sockets_per_account as usize {
        drop(rx);
        state.hub.release(c.account);
        return Err(Error::of(
            "too_many_sockets",
            "too many notification sockets open for this account",
        ));
    }
    // Notices are tiny and clients send only control frames: small buffers
    // instead of the library's 128 KiB each keep an idle socket cheap.
    Ok(upgrade
        .read_buffer_size(4096)
        .write_buffer_size(0)
        .max_write_buffer_size(64 * 1024)
        .max_frame_size(4096)
        .max_message_size(4096)
        .on_upgrade(move |socket| serve(state, c, socket, rx)))
}

fn text(n: &Notice) -> Message {
    Message::Text(serde_json::to_string(n).unwrap_or_default().into())
}

async fn close(socket: &mut WebSocket, code: u16, reason: &'static str) {
    let _ = socket
        .send(Message::Close(Some(CloseFrame {
            code,
            reason: reason.into(),
        })))
        .await;
}

async fn serve(
    state: Arc<AppState>,
    c: Caller,
    mut socket: WebSocket,
    mut rx: tokio::sync::watch::Receiver<crate::notify::Signal>,
) {
    state.metrics.sockets.inc();
    let mut shutdown = state.shutdown.subscribe();
    // Subscribed before reading the head: a push in between is not missed.
    let db_head = state.db.head(c.account).await.ok().flatten().unwrap_or(0);
    state.hub.head(c.account, db_head);
    let first = rx.borrow_and_update().to_owned();
    let mut sent = first.head;
    let mut revocations = first.revocations;
    let interval = state.config.ping_interval;
    let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
    let mut heard = Instant::now();
    if socket
        .send(text(&Notice::Head { head: sent }))
        .await
        .is_ok()
    {
        state.metrics.notices_sent.inc();
        loop {
            tokio::select! {
                changed = rx.changed() => {
                    if changed.is_err() { break; }
                    let s = *rx.borrow_and_update();
                    if s.deleted {
                        close(&mut socket, CLOSE_ACCOUNT_DELETED, "account deleted").await;
                        break;
                    }
                    if s.revocations != revocations {
                        revocations = s.revocations;
                        if !state.db.device_active(c.account, c.device).await.unwrap_or(true) {
                            let _ = socket.send(text(&Notice::SignedOut)).await;
                            close(&mut socket, CLOSE_SIGNED_OUT, "device signed out").await;
                            break;
                        }
                    }
                    if s.head > sent {
                        sent = s.head;
                        if socket.send(text(&Notice::Head { head: sent })).await.is_err() { break; }
                        state.metrics.notices_sent.inc();
                    }
                }
                msg = socket.recv() => match msg {
                    None | Some(Err(_)) | Some(Ok(Message::Close(_))) => break,
                    Some(Ok(_)) => heard = Instant::now(),
                },
                _ = ping.tick() => {
                    if heard.elapsed() > interval * 2 {
                        close(&mut socket, CLOSE_IDLE, "no pong").await;
                        break;
                    }
                    if socket.send(Message::Ping(Vec::new().into())).await.is_err() { break; }
                }
                _ = shutdown.changed() => {
                    close(&mut socket, 1001, "server shutting down").await;
                    break;
                }
            }
        }
    }
    state.metrics.sockets.dec();
    drop(rx);
    state.hub.release(c.account);
}
