//! `--data s3://bucket/prefix`: a store kept in object storage (S3 or any
//! S3-compatible server). evmon works on a local mirror of it: before a
//! command, the manifest and the files it lists are fetched (files are
//! immutable and uniquely named, so copies already fetched are reused).
//! After a write, the new files are uploaded first and the manifest last,
//! which keeps the commit point the same as on disk: readers of the bucket
//! see the old or the new manifest, never a half-written store.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use object_store::aws::AmazonS3Builder;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use thiserror::Error;

use super::manifest::Manifest;

/// Name of the manifest object, as on disk.
const MANIFEST: &str = "manifest.json";

#[derive(Debug, Error)]
pub enum RemoteError {
    #[error("{0}: not an object store URL; use s3://BUCKET/PREFIX")]
    Url(String),
    #[error("cannot reach {url}: {message} (credentials and endpoint come from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION, AWS_ENDPOINT_URL)")]
    Store { url: String, message: String },
    #[error("cannot use the local mirror {path}: {source}")]
    Local {
        path: String,
        source: std::io::Error,
    },
    #[error("the store at {url} changed while this command ran (manifest version {ours} became {theirs}); nothing was committed: run it again")]
    Conflict { url: String, ours: u64, theirs: u64 },
}

/// Whether `data` names an object store rather than a directory.
pub fn is_remote(data: &Path) -> bool {
    data.to_str().is_some_and(|s| s.starts_with("s3://"))
}

/// An object-store store and its local mirror.
pub struct Remote {
    url: String,
    store: Arc<dyn ObjectStore>,
    prefix: String,
    /// The mirror commands work on.
    pub local: PathBuf,
    runtime: tokio::runtime::Runtime,
    /// Manifest version fetched by `pull` (0: there was none).
    pulled: u64,
}

impl Remote {
    /// Connect to `url` (`s3://bucket/prefix`); the mirror lives under
    /// `cache` (one directory per bucket and prefix).
    pub fn open(url: &str, cache: &Path) -> Result<Remote, RemoteError> {
        let rest = url
            .strip_prefix("s3://")
            .ok_or_else(|| RemoteError::Url(url.to_string()))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(RemoteError::Url(url.to_string()));
        }
        let prefix = prefix.trim_matches('/').to_string();
        let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
        // The common name of the endpoint variable (AWS CLI, SDKs), for
        // MinIO, moto, Garage, Ceph, R2 ...
        if let Ok(endpoint) = std::env::var("AWS_ENDPOINT_URL") {
            builder = builder
                .with_allow_http(endpoint.starts_with("http://"))
                .with_endpoint(endpoint);
        }
        let store = builder.build().map_err(|e| RemoteError::Store {
            url: url.to_string(),
            message: e.to_string(),
        })?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|source| RemoteError::Local {
                path: "tokio runtime".into(),
                source,
            })?;
        let local = cache
            .join(bucket)
            .join(if prefix.is_empty() { "_" } else { &prefix });
        Ok(Remote {
            url: url.to_string(),
            store: Arc::new(store),
            prefix,
            local,
            runtime,
            pulled: 0,
        })
    }

    fn key(&self, rel: &str) -> ObjectPath {
        if self.prefix.is_empty() {
            ObjectPath::from(rel)
        } else {
            ObjectPath::from(format!("{}/{rel}", self.prefix))
        }
    }

    fn store_err(&self, e: object_store::Error) -> RemoteError {
        RemoteError::Store {
            url: self.url.clone(),
            message: e.to_string(),
        }
    }

    fn local_err(path: &Path) -> impl FnOnce(std::io::Error) -> RemoteError + '_ {
        move |source| RemoteError::Local {
            path: path.display().to_string(),
            source,
        }
    }

    /// The remote manifest's bytes, or `None` for a new store.
    fn fetch_manifest(&self) -> Result<Option<Vec<u8>>, RemoteError> {
        let key = self.key(MANIFEST);
        self.runtime.block_on(async {
            match self.store.get(&key).await {
                Ok(r) => Ok(Some(
                    r.bytes().await.map_err(|e| self.store_err(e))?.to_vec(),
                )),
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(self.store_err(e)),
            }
        })
    }

    /// Bring the mirror to the remote state: the manifest and every file it
    /// lists. Returns the number of files fetched.
    pub fn pull(&mut self) -> Result<usize, RemoteError> {
        std::fs::create_dir_all(&self.local).map_err(Self::local_err(&self.local))?;
        let Some(bytes) = self.fetch_manifest()? else {
            // A new store: the first ingest creates it (locally, then
            // there). Whatever the mirror held belonged to a store that is
            // gone.
            std::fs::remove_dir_all(&self.local).map_err(Self::local_err(&self.local))?;
            std::fs::create_dir_all(&self.local).map_err(Self::local_err(&self.local))?;
            self.pulled = 0;
            return Ok(0);
        };
        let manifest: Manifest =
            serde_json::from_slice(&bytes).map_err(|e| RemoteError::Store {
                url: self.url.clone(),
                message: format!("manifest.json is not an evmon manifest: {e}"),
            })?;
        let mut fetched = 0;
        for parts in manifest.tables.values() {
            for entry in parts.values() {
                let path = self.local.join(&entry.file);
                if std::fs::metadata(&path).is_ok_and(|m| m.len() == entry.bytes) {
                    continue;
                }
                let data = self.runtime.block_on(async {
                    let r = self.store.get(&self.key(&entry.file)).await?;
                    r.bytes().await
                });
                let data = data.map_err(|e| self.store_err(e))?;
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir).map_err(Self::local_err(dir))?;
                }
                std::fs::write(&path, &data).map_err(Self::local_err(&path))?;
                fetched += 1;
            }
        }
        // Replace the mirror's manifest atomically: another command on this
        // machine may be reading the mirror.
        let path = self.local.join(MANIFEST);
        let tmp = self.local.join(".manifest.json.pull");
        std::fs::write(&tmp, &bytes).map_err(Self::local_err(&tmp))?;
        std::fs::rename(&tmp, &path).map_err(Self::local_err(&path))?;
        self.pulled = manifest.version;
        Ok(fetched)
    }

    /// Publish what a write committed to the mirror: upload the files the
    /// remote lacks, then the manifest. Returns the number of files sent.
    pub fn push(&self) -> Result<usize, RemoteError> {
        let path = self.local.join(MANIFEST);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(Self::local_err(&path)(e)),
        };
        let manifest: Manifest =
            serde_json::from_slice(&bytes).map_err(|e| RemoteError::Local {
                path: path.display().to_string(),
                source: std::io::Error::other(e),
            })?;
        if manifest.version == self.pulled {
            return Ok(0); // nothing was committed
        }
        // Someone else committed since we pulled: do not overwrite.
        if let Some(theirs) = self.fetch_manifest()? {
            let theirs: Manifest = serde_json::from_slice(&theirs).unwrap_or_default();
            if theirs.version != self.pulled {
                return Err(RemoteError::Conflict {
                    url: self.url.clone(),
                    ours: self.pulled,
                    theirs: theirs.version,
                });
            }
        }
        let mut sent = 0;
        for parts in manifest.tables.values() {
            for entry in parts.values() {
                let key = self.key(&entry.file);
                let exists = self.runtime.block_on(self.store.head(&key));
                if exists.is_ok_and(|m| m.size == entry.bytes) {
                    continue;
                }
                let file = self.local.join(&entry.file);
                let data = std::fs::read(&file).map_err(Self::local_err(&file))?;
                self.runtime
                    .block_on(self.store.put(&key, PutPayload::from(data)))
                    .map_err(|e| self.store_err(e))?;
                sent += 1;
            }
        }
        // Last: the commit point.
        self.runtime
            .block_on(self.store.put(&self.key(MANIFEST), PutPayload::from(bytes)))
            .map_err(|e| self.store_err(e))?;
        Ok(sent)
    }
}
