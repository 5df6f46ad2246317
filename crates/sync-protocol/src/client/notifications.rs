//! The notification socket: yields the account's head whenever it moves.

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;

use super::http::ClientError;
use crate::api::{Notice, PROTOCOL_HEADER, PROTOCOL_VERSION};

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub struct Notifications {
    socket: Socket,
}

impl Notifications {
    /// `base` is the server's http(s) URL, as for [`super::SyncClient::new`].
    pub async fn connect(base: &str, token: &str) -> Result<Notifications, ClientError> {
        let url = format!(
            "{}/v1/notifications",
            base.trim_end_matches('/')
                .replacen("https://", "wss://", 1)
                .replacen("http://", "ws://", 1)
        );
        let mut req = url
            .into_client_request()
            .map_err(|e| ClientError::Unreachable(e.to_string()))?;
        let auth = HeaderValue::from_str(&format!("Bearer {token}"))
            .map_err(|e| ClientError::Unreachable(e.to_string()))?;
        req.headers_mut().insert("authorization", auth);
        req.headers_mut().insert(
            PROTOCOL_HEADER,
            HeaderValue::from_str(&PROTOCOL_VERSION.to_string())
                .map_err(|e| ClientError::Unreachable(e.to_string()))?,
        );
        match tokio_tungstenite::connect_async(req).await {
            Ok((socket, _)) => Ok(Notifications { socket }),
            Err(tokio_tungstenite::tungstenite::Error::Http(r)) => {
                let status = r.status().as_u16();
                let body = r.body().clone().unwrap_or_default();
                Err(
                    match serde_json::from_slice::<crate::api::ApiError>(&body) {
                        Ok(e) => ClientError::Api {
                            status,
                            code: e.code,
                            message: e.message,
                            details: e.details,
                        },
                        Err(_) => ClientError::BadResponse(format!("HTTP {status} on upgrade")),
                    },
                )
            }
            Err(e) => Err(ClientError::Unreachable(e.to_string())),
        }
    }

    /// The next notice; `Ok(None)` when the server closed the socket.
    pub async fn next(&mut self) -> Result<Option<Notice>, ClientError> {
        while let Some(msg) = self.socket.next().await {
            match msg.map_err(|e| ClientError::Unreachable(e.to_string()))? {
                Message::Text(t) => {
                    return serde_json::from_str(&t)
                        .map(Some)
                        .map_err(|e| ClientError::BadResponse(e.to_string()))
                }
                Message::Close(_) => return Ok(None),
                // Pings are answered by the library as they are read.
                _ => {}
            }
        }
        Ok(None)
    }

    pub async fn close(mut self) {
        let _ = self.socket.close(None).await;
        let _ = self.socket.flush().await;
    }
}
