//! Where published files live: a local folder (the default) or an
//! S3-compatible bucket, both through `object_store`, so the code that stores
//! and serves them — including byte ranges for resumed downloads — is one.

use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::stream::BoxStream;
use object_store::path::Path as ObjectPath;
use object_store::{GetOptions, GetRange, ObjectStore, WriteMultipart};
use tokio::io::AsyncReadExt;

use crate::config::ArtifactConfig;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("artifact store: {0}")]
    Store(#[from] object_store::Error),
    #[error("artifact store: {0}")]
    Io(#[from] std::io::Error),
}

#[derive(Clone)]
pub struct ArtifactStore {
    inner: Arc<dyn ObjectStore>,
}

pub struct Download {
    pub size: u64,
    /// The bytes sent: all, or the requested range.
    pub range: Range<u64>,
    pub body: BoxStream<'static, Result<Bytes, object_store::Error>>,
}

/// Bytes per upload part; S3 wants at least 5 MiB for all but the last.
const PART: usize = 8 << 20;

impl ArtifactStore {
    pub fn open(config: &ArtifactConfig) -> Result<Self, StoreError> {
        let inner: Arc<dyn ObjectStore> = match config {
            ArtifactConfig::Local { path } => {
                std::fs::create_dir_all(path)?;
                Arc::new(object_store::local::LocalFileSystem::new_with_prefix(path)?)
            }
            ArtifactConfig::S3 {
                bucket,
                endpoint,
                region,
                allow_http,
            } => {
                // Credentials come from the standard AWS_* environment variables.
                let mut b = object_store::aws::AmazonS3Builder::from_env().with_bucket_name(bucket);
                if let Some(e) = endpoint {
                    b = b.with_endpoint(e).with_virtual_hosted_style_request(false);
                }
                if let Some(r) = region {
                    b = b.with_region(r);
                }
                Arc::new(b.with_allow_http(*allow_http).build()?)
            }
        };
        Ok(ArtifactStore { inner })
    }

    /// Copies a verified file from local staging into the store.
    pub async fn put_file(&self, key: &str, file: &Path) -> Result<(), StoreError> {
        let upload = self.inner.put_multipart(&ObjectPath::from(key)).await?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, PART);
        let mut f = tokio::fs::File::open(file).await?;
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = f.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            writer.wait_for_capacity(4).await?;
            writer.write(&buf[..n]);
        }
        writer.finish().await?;
        Ok(())
    }

    /// Stores bytes built by the service itself (delta patches).
    pub async fn put_bytes(&self, key: &str, bytes: Vec<u8>) -> Result<(), StoreError> {
        self.inner.put(&ObjectPath::from(key), bytes.into()).await?;
        Ok(())
    }

    /// Reads a whole object into memory, refusing one of more than `limit`
    /// bytes (the size recorded at publish bounds what a build holds).
    pub async fn get_bytes(&self, key: &str, limit: u64) -> Result<Vec<u8>, StoreError> {
        use futures_util::StreamExt;
        let mut download = self.get(key, None).await?;
        if download.size > limit {
            return Err(StoreError::Io(std::io::Error::other(format!(
                "{key} has {} bytes, more than the {limit} expected",
                download.size
            ))));
        }
        let mut out = Vec::with_capacity(download.size as usize);
        while let Some(chunk) = download.body.next().await {
            out.extend_from_slice(&chunk?);
            if out.len() as u64 > limit {
                return Err(StoreError::Io(std::io::Error::other(format!(
                    "{key} grew past {limit} bytes while being read"
                ))));
            }
        }
        Ok(out)
    }

    pub async fn delete(&self, key: &str) -> Result<(), StoreError> {
        match self.inner.delete(&ObjectPath::from(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Opens `key`, or the byte range of it; `range` must already be checked
    /// against the size the snapshot recorded.
    pub async fn get(&self, key: &str, range: Option<Range<u64>>) -> Result<Download, StoreError> {
        let opts = GetOptions {
            range: range.map(GetRange::Bounded),
            ..Default::default()
        };
        let r = self.inner.get_opts(&ObjectPath::from(key), opts).await?;
        Ok(Download {
            size: r.meta.size,
            range: r.range.clone(),
            body: r.into_stream(),
        })
    }
}
