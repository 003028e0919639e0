//! Blob storage for sealed clips and thumbnails, behind the [`BlobStore`] trait.
//!
//! Objects appear atomically: a blob is either absent or complete. The local backend writes to a
//! temporary file in the same directory, fsyncs it, then renames it into place.

use std::future::Future;
use std::io::SeekFrom;
use std::path::{Path, PathBuf};
use std::pin::Pin;

use bytes::Bytes;
use futures_util::Stream;
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

use crate::error::CloudError;

/// A stream of byte chunks read from a blob.
pub type ByteStream = Pin<Box<dyn Stream<Item = std::io::Result<Bytes>> + Send>>;

type BoxFut<'a, T> = Pin<Box<dyn Future<Output = Result<T, CloudError>> + Send + 'a>>;

/// Read chunk size when streaming blobs out.
const READ_CHUNK: usize = 64 * 1024;

/// Where blobs live. Keys are relative paths made of `[a-z0-9._/-]`.
pub trait BlobStore: Send + Sync + std::fmt::Debug {
    /// Moves a finished local file (from the upload spool) into the store under `key`,
    /// atomically. The source file is consumed.
    fn put_file<'a>(&'a self, key: &'a str, src: &'a Path) -> BoxFut<'a, ()>;
    /// Stores `data` under `key`, atomically.
    fn put_bytes<'a>(&'a self, key: &'a str, data: Bytes) -> BoxFut<'a, ()>;
    /// Size of the blob, `None` if absent.
    fn size<'a>(&'a self, key: &'a str) -> BoxFut<'a, Option<u64>>;
    /// Streams bytes `start..end` (end exclusive) of the blob.
    fn read_range<'a>(&'a self, key: &'a str, start: u64, end: u64) -> BoxFut<'a, ByteStream>;
    /// Reads a whole (small) blob.
    fn get_bytes<'a>(&'a self, key: &'a str) -> BoxFut<'a, Option<Bytes>>;
    /// Readiness check: the store is reachable and writable.
    fn ready<'a>(&'a self) -> BoxFut<'a, ()>;
}

/// Blobs as files under a local directory.
#[derive(Debug, Clone)]
pub struct LocalBlobs {
    root: PathBuf,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> CloudError + '_ {
    move |source| CloudError::Blob {
        path: path.display().to_string(),
        source,
    }
}

fn check_key(key: &str) -> Result<(), CloudError> {
    let ok = !key.is_empty()
        && !key.starts_with('/')
        && !key
            .split('/')
            .any(|p| p.is_empty() || p == "." || p == "..")
        && key
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._/-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(CloudError::Blob {
            path: key.to_owned(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "invalid blob key"),
        })
    }
}

impl LocalBlobs {
    /// A store rooted at `root` (created if missing).
    pub fn new(root: impl Into<PathBuf>) -> Result<Self, CloudError> {
        let root = root.into();
        std::fs::create_dir_all(&root).map_err(io_err(&root))?;
        Ok(Self { root })
    }

    fn path(&self, key: &str) -> Result<PathBuf, CloudError> {
        check_key(key)?;
        Ok(self.root.join(key))
    }

    async fn tmp_for(&self, dest: &Path) -> Result<PathBuf, CloudError> {
        let parent = dest.parent().unwrap_or(&self.root).to_owned();
        tokio::fs::create_dir_all(&parent)
            .await
            .map_err(io_err(&parent))?;
        let name = dest.file_name().and_then(|n| n.to_str()).unwrap_or("blob");
        Ok(parent.join(format!(".tmp-{}-{}", name, rand::random::<u64>())))
    }
}

async fn fsync_dir(dir: &Path) {
    // Best effort: makes the rename durable on filesystems that need it.
    if let Ok(f) = tokio::fs::File::open(dir).await {
        let _ = f.sync_all().await;
    }
}

impl BlobStore for LocalBlobs {
    fn put_file<'a>(&'a self, key: &'a str, src: &'a Path) -> BoxFut<'a, ()> {
        Box::pin(async move {
            let dest = self.path(key)?;
            let parent = dest.parent().unwrap_or(&self.root).to_owned();
            tokio::fs::create_dir_all(&parent)
                .await
                .map_err(io_err(&parent))?;
            // Same filesystem: rename is atomic. Otherwise copy to a temp file, then rename.
            if tokio::fs::rename(src, &dest).await.is_err() {
                let tmp = self.tmp_for(&dest).await?;
                tokio::fs::copy(src, &tmp).await.map_err(io_err(&tmp))?;
                let f = tokio::fs::File::open(&tmp).await.map_err(io_err(&tmp))?;
                f.sync_all().await.map_err(io_err(&tmp))?;
                tokio::fs::rename(&tmp, &dest)
                    .await
                    .map_err(io_err(&dest))?;
                let _ = tokio::fs::remove_file(src).await;
            }
            fsync_dir(&parent).await;
            Ok(())
        })
    }

    fn put_bytes<'a>(&'a self, key: &'a str, data: Bytes) -> BoxFut<'a, ()> {
        Box::pin(async move {
            let dest = self.path(key)?;
            let tmp = self.tmp_for(&dest).await?;
            let mut f = tokio::fs::File::create(&tmp).await.map_err(io_err(&tmp))?;
            f.write_all(&data).await.map_err(io_err(&tmp))?;
            f.sync_all().await.map_err(io_err(&tmp))?;
            drop(f);
            tokio::fs::rename(&tmp, &dest)
                .await
                .map_err(io_err(&dest))?;
            if let Some(p) = dest.parent() {
                fsync_dir(p).await;
            }
            Ok(())
        })
    }

    fn size<'a>(&'a self, key: &'a str) -> BoxFut<'a, Option<u64>> {
        Box::pin(async move {
            let p = self.path(key)?;
            match tokio::fs::metadata(&p).await {
                Ok(m) => Ok(Some(m.len())),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(io_err(&p)(e)),
            }
        })
    }

    fn read_range<'a>(&'a self, key: &'a str, start: u64, end: u64) -> BoxFut<'a, ByteStream> {
        Box::pin(async move {
            let p = self.path(key)?;
            let mut f = tokio::fs::File::open(&p).await.map_err(io_err(&p))?;
            f.seek(SeekFrom::Start(start)).await.map_err(io_err(&p))?;
            let remaining = end.saturating_sub(start);
            let stream =
                futures_util::stream::unfold((f, remaining), |(mut f, remaining)| async move {
                    if remaining == 0 {
                        return None;
                    }
                    let want = remaining.min(READ_CHUNK as u64) as usize;
                    let mut buf = vec![0u8; want];
                    match f.read(&mut buf).await {
                        Ok(0) => Some((
                            Err(std::io::Error::new(
                                std::io::ErrorKind::UnexpectedEof,
                                "blob shorter than expected",
                            )),
                            (f, 0),
                        )),
                        Ok(n) => {
                            buf.truncate(n);
                            Some((Ok(Bytes::from(buf)), (f, remaining - n as u64)))
                        }
                        Err(e) => Some((Err(e), (f, 0))),
                    }
                });
            Ok(Box::pin(stream) as ByteStream)
        })
    }

    fn get_bytes<'a>(&'a self, key: &'a str) -> BoxFut<'a, Option<Bytes>> {
        Box::pin(async move {
            let p = self.path(key)?;
            match tokio::fs::read(&p).await {
                Ok(b) => Ok(Some(Bytes::from(b))),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(io_err(&p)(e)),
            }
        })
    }

    fn ready<'a>(&'a self) -> BoxFut<'a, ()> {
        Box::pin(async move {
            let m = tokio::fs::metadata(&self.root)
                .await
                .map_err(io_err(&self.root))?;
            if m.permissions().readonly() {
                return Err(CloudError::Blob {
                    path: self.root.display().to_string(),
                    source: std::io::Error::new(std::io::ErrorKind::PermissionDenied, "read-only"),
                });
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;

    #[test]
    fn keys_are_checked() {
        assert!(check_key("clips/0xab.sealed").is_ok());
        for bad in ["", "/abs", "a/../b", "a//b", "A", "a b", "./a"] {
            assert!(check_key(bad).is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn put_and_read_ranges() {
        let dir = tempfile::tempdir().unwrap();
        let s = LocalBlobs::new(dir.path().join("b")).unwrap();
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 253) as u8).collect();
        s.put_bytes("x/y.bin", Bytes::from(data.clone()))
            .await
            .unwrap();
        assert_eq!(s.size("x/y.bin").await.unwrap(), Some(200_000));
        assert_eq!(s.size("x/none").await.unwrap(), None);
        let mut got = Vec::new();
        let mut st = s.read_range("x/y.bin", 1000, 150_001).await.unwrap();
        while let Some(c) = st.next().await {
            got.extend_from_slice(&c.unwrap());
        }
        assert_eq!(got, &data[1000..150_001]);
        let src = dir.path().join("spool.part");
        std::fs::write(&src, b"hello").unwrap();
        s.put_file("c/z", &src).await.unwrap();
        assert!(!src.exists());
        assert_eq!(
            s.get_bytes("c/z").await.unwrap().unwrap(),
            Bytes::from_static(b"hello")
        );
    }
}

/// Settings of the S3-compatible backend (built from `blob.*` and the environment).
#[derive(Debug, Clone)]
pub struct S3Settings {
    /// Bucket name.
    pub bucket: String,
    /// Key prefix inside the bucket (no leading or trailing `/`; may be empty).
    pub prefix: String,
    /// Endpoint URL (`http(s)://host:port`); None: AWS S3 for `region`.
    pub endpoint: Option<String>,
    /// Region (signing).
    pub region: String,
    /// Access key id.
    pub access_key_id: crate::config::Secret,
    /// Secret access key.
    pub secret_access_key: crate::config::Secret,
}

/// Blobs in an S3-compatible object store (`object_store` crate). Objects appear atomically:
/// a multipart upload is only visible once completed.
#[derive(Debug)]
pub struct S3Blobs {
    store: object_store::aws::AmazonS3,
    prefix: String,
    describe: String,
}

/// Part size of multipart uploads (S3's minimum is 5 MiB).
const S3_PART: usize = 8 << 20;
/// Files up to this size are sent in one PUT.
const S3_SINGLE_PUT: u64 = 8 << 20;

fn s3_err(what: &str, key: &str, e: object_store::Error) -> CloudError {
    CloudError::Blob {
        path: format!("{what} {key}"),
        source: std::io::Error::other(e.to_string()),
    }
}

impl S3Blobs {
    /// Connects (lazily: the first request reaches the server) to the bucket.
    pub fn new(s: S3Settings) -> Result<Self, CloudError> {
        let mut b = object_store::aws::AmazonS3Builder::new()
            .with_bucket_name(&s.bucket)
            .with_region(&s.region)
            .with_access_key_id(s.access_key_id.expose())
            .with_secret_access_key(s.secret_access_key.expose())
            .with_virtual_hosted_style_request(false)
            .with_retry(object_store::RetryConfig {
                backoff: Default::default(),
                max_retries: 3,
                retry_timeout: std::time::Duration::from_secs(30),
            });
        if let Some(ep) = &s.endpoint {
            b = b
                .with_endpoint(ep)
                .with_allow_http(ep.starts_with("http://"));
        }
        let store = b.build().map_err(|e| {
            CloudError::Config(format!(
                "blob: cannot configure S3 bucket {}: {e}",
                s.bucket
            ))
        })?;
        let describe = format!(
            "s3://{}/{} at {}",
            s.bucket,
            s.prefix,
            s.endpoint.as_deref().unwrap_or("AWS")
        );
        Ok(Self {
            store,
            prefix: s.prefix,
            describe,
        })
    }

    /// `s3://bucket/prefix at endpoint`, for logs.
    pub fn describe(&self) -> &str {
        &self.describe
    }

    fn path(&self, key: &str) -> Result<object_store::path::Path, CloudError> {
        check_key(key)?;
        let full = if self.prefix.is_empty() {
            key.to_owned()
        } else {
            format!("{}/{key}", self.prefix)
        };
        object_store::path::Path::parse(&full).map_err(|e| CloudError::Blob {
            path: full.clone(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string()),
        })
    }

    async fn upload_file(&self, key: &str, src: &Path) -> Result<(), CloudError> {
        use object_store::ObjectStoreExt;
        let path = self.path(key)?;
        let mut f = tokio::fs::File::open(src).await.map_err(io_err(src))?;
        let len = f.metadata().await.map_err(io_err(src))?.len();
        if len <= S3_SINGLE_PUT {
            let mut buf = Vec::with_capacity(len as usize);
            f.read_to_end(&mut buf).await.map_err(io_err(src))?;
            self.store
                .put(&path, Bytes::from(buf).into())
                .await
                .map_err(|e| s3_err("put", key, e))?;
            return Ok(());
        }
        let upload = self
            .store
            .put_multipart(&path)
            .await
            .map_err(|e| s3_err("starting multipart upload of", key, e))?;
        let mut w = object_store::WriteMultipart::new_with_chunk_size(upload, S3_PART);
        let mut buf = vec![0u8; 1 << 20];
        let res: Result<(), CloudError> = async {
            loop {
                let n = f.read(&mut buf).await.map_err(io_err(src))?;
                if n == 0 {
                    return Ok(());
                }
                w.wait_for_capacity(4)
                    .await
                    .map_err(|e| s3_err("uploading part of", key, e))?;
                w.write(&buf[..n]);
            }
        }
        .await;
        match res {
            Ok(()) => {
                w.finish()
                    .await
                    .map_err(|e| s3_err("completing multipart upload of", key, e))?;
                Ok(())
            }
            Err(e) => {
                let _ = w.abort().await;
                Err(e)
            }
        }
    }
}

impl BlobStore for S3Blobs {
    fn put_file<'a>(&'a self, key: &'a str, src: &'a Path) -> BoxFut<'a, ()> {
        Box::pin(async move {
            self.upload_file(key, src).await?;
            // The object is complete in the bucket: the spool copy can go.
            let _ = tokio::fs::remove_file(src).await;
            Ok(())
        })
    }

    fn put_bytes<'a>(&'a self, key: &'a str, data: Bytes) -> BoxFut<'a, ()> {
        Box::pin(async move {
            use object_store::ObjectStoreExt;
            let path = self.path(key)?;
            self.store
                .put(&path, data.into())
                .await
                .map_err(|e| s3_err("put", key, e))?;
            Ok(())
        })
    }

    fn size<'a>(&'a self, key: &'a str) -> BoxFut<'a, Option<u64>> {
        Box::pin(async move {
            use object_store::ObjectStoreExt;
            let path = self.path(key)?;
            match self.store.head(&path).await {
                Ok(m) => Ok(Some(m.size)),
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(s3_err("head", key, e)),
            }
        })
    }

    fn read_range<'a>(&'a self, key: &'a str, start: u64, end: u64) -> BoxFut<'a, ByteStream> {
        Box::pin(async move {
            use futures_util::StreamExt;
            use object_store::ObjectStore;
            let path = self.path(key)?;
            if end <= start {
                return Ok(Box::pin(futures_util::stream::empty()) as ByteStream);
            }
            let opts = object_store::GetOptions {
                range: Some(object_store::GetRange::Bounded(start..end)),
                ..Default::default()
            };
            let res = self
                .store
                .get_opts(&path, opts)
                .await
                .map_err(|e| s3_err("get", key, e))?;
            let stream = res.into_stream().map(|r| r.map_err(std::io::Error::from));
            Ok(Box::pin(stream) as ByteStream)
        })
    }

    fn get_bytes<'a>(&'a self, key: &'a str) -> BoxFut<'a, Option<Bytes>> {
        Box::pin(async move {
            use object_store::ObjectStoreExt;
            let path = self.path(key)?;
            match self.store.get(&path).await {
                Ok(r) => Ok(Some(r.bytes().await.map_err(|e| s3_err("get", key, e))?)),
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(s3_err("get", key, e)),
            }
        })
    }

    fn ready<'a>(&'a self) -> BoxFut<'a, ()> {
        Box::pin(async move {
            use object_store::ObjectStoreExt;
            let path = self.path("ready-probe")?;
            self.store
                .put(&path, Bytes::from_static(b"ok").into())
                .await
                .map_err(|e| s3_err(&format!("writing to {}:", self.describe), "ready-probe", e))?;
            Ok(())
        })
    }
}
