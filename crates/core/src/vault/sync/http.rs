//! [`Transport`] over HTTP to `sync-server`: the protocol crate's typed
//! calls, run to completion on a private current-thread runtime so the
//! engine stays blocking. Call it from a plain thread (in an async app,
//! from `spawn_blocking`): blocking inside a runtime's worker panics.

use productivitypro_sync_protocol::api::{PullPage, PushResponse};
use productivitypro_sync_protocol::client::{ClientError, SyncClient};
use productivitypro_sync_protocol::snapshot::SnapshotEnvelope;
use productivitypro_sync_protocol::BatchEnvelope;
use zeroize::Zeroizing;

use super::{SyncEndpoint, Transport, TransportError};

pub struct HttpTransport {
    client: SyncClient,
    token: Zeroizing<String>,
    rt: tokio::runtime::Runtime,
}

fn transport_error(e: ClientError) -> TransportError {
    TransportError {
        code: e.code().to_string(),
        message: e.to_string(),
    }
}

impl HttpTransport {
    pub fn new(endpoint: &SyncEndpoint) -> Result<HttpTransport, TransportError> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| TransportError {
                code: "server_unreachable".into(),
                message: format!("cannot start the network runtime: {e}"),
            })?;
        Ok(HttpTransport {
            client: SyncClient::new(&endpoint.server),
            token: endpoint.token.clone(),
            rt,
        })
    }
}

impl Transport for HttpTransport {
    fn push(&mut self, batches: &[BatchEnvelope]) -> Result<PushResponse, TransportError> {
        self.rt
            .block_on(self.client.push(&self.token, batches))
            .map_err(transport_error)
    }

    fn pull(&mut self, cursor: u64, limit: Option<u32>) -> Result<PullPage, TransportError> {
        self.rt
            .block_on(self.client.pull(&self.token, cursor, limit))
            .map_err(transport_error)
    }

    fn snapshot(&mut self) -> Result<Option<SnapshotEnvelope>, TransportError> {
        self.rt
            .block_on(self.client.snapshot(&self.token))
            .map_err(transport_error)
    }

    fn put_snapshot(&mut self, s: &SnapshotEnvelope) -> Result<bool, TransportError> {
        match self.rt.block_on(self.client.put_snapshot(&self.token, s)) {
            Ok(_) => Ok(true),
            Err(e) if e.code() == "snapshot_stale" => Ok(false),
            Err(e) => Err(transport_error(e)),
        }
    }
}
