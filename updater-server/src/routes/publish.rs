//! `POST /v1/releases`: a multipart request whose first part is the release
//! (JSON) and whose other parts are its files, named by platform key. This
//! handler only reads the parts; `crate::publish` judges and records them.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Multipart, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use productivitypro_protocol::api::{ReleaseStatus, Scope};

use crate::auth::{authorize, Actor};
use crate::error::{ApiResult, Error};
use crate::publish::{Publication, MAX_RELEASE_JSON};
use crate::state::AppState;

fn multipart_error(e: axum::extract::multipart::MultipartError) -> Error {
    Error::new(
        e.status(),
        "invalid_multipart",
        format!("reading the upload: {}", e.body_text()),
    )
}

/// How much of a refused upload is still read before answering, and for how
/// long. HTTP/1.1 clients (reqwest, curl without `Expect: 100-continue`) keep
/// writing the body until it is sent; if the service answers and closes the
/// connection under them, they report "broken pipe" instead of the refusal.
/// Only an authorised publisher's upload is drained, and only this far: past
/// it the connection is closed and the client sees a transport error.
const DRAIN_LIMIT: u64 = 4 << 30;
const DRAIN_TIME: Duration = Duration::from_secs(120);

pub async fn publish(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    mut multipart: Multipart,
) -> ApiResult<(StatusCode, Json<ReleaseStatus>)> {
    let actor = authorize(&state.db, &headers, Some(Scope::Publish), state.now()).await?;
    let result = receive(&state, actor, &mut multipart).await;
    if result.is_err() {
        drain(&mut multipart).await;
    }
    result
}

/// Reads what is left of the upload and throws it away, so the refusal
/// reaches the client (see `DRAIN_LIMIT`).
async fn drain(multipart: &mut Multipart) {
    let read_rest = async {
        let mut left = DRAIN_LIMIT;
        while let Ok(Some(mut field)) = multipart.next_field().await {
            while let Ok(Some(chunk)) = field.chunk().await {
                left = left.saturating_sub(chunk.len() as u64);
                if left == 0 {
                    return;
                }
            }
        }
    };
    let _ = tokio::time::timeout(DRAIN_TIME, read_rest).await;
}

async fn receive(
    state: &AppState,
    actor: Actor,
    multipart: &mut Multipart,
) -> ApiResult<(StatusCode, Json<ReleaseStatus>)> {
    let first = multipart.next_field().await.map_err(multipart_error)?;
    // The release is judged before any file is read, so it must come first;
    // a well-formed request in another order is refused as such (422).
    let Some(mut first) = first.filter(|f| f.name() == Some("release")) else {
        return Err(Error::unprocessable(
            "release_not_first",
            "the first part must be `release` (the release JSON), before the files",
        ));
    };
    let mut json = Vec::new();
    while let Some(chunk) = first.chunk().await.map_err(multipart_error)? {
        json.extend_from_slice(&chunk);
        if json.len() > MAX_RELEASE_JSON {
            return Err(Error::too_large("the release part is over 1 MiB"));
        }
    }
    drop(first);
    let mut publication = Publication::begin(state, actor, &json)?;

    while let Some(mut field) = multipart.next_field().await.map_err(multipart_error)? {
        let name = field.name().unwrap_or_default().to_string();
        let mut sink = publication.upload(&name)?;
        loop {
            match field.chunk().await {
                Ok(Some(chunk)) => sink.push(chunk).await?,
                Ok(None) => break,
                Err(e) => {
                    sink.discard().await;
                    return Err(multipart_error(e));
                }
            }
        }
        let platform = sink.platform();
        let staged = sink.finish().await?;
        publication.received(platform, staged);
    }
    Ok((StatusCode::CREATED, Json(publication.finish().await?)))
}
