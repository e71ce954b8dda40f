//! Advisory file locks that keep concurrent evmon processes from corrupting
//! the store.
//!
//! Two lock files live in the store:
//! * `.lock`: held exclusively by the one writer (an ingest). Its content
//!   says who holds it, so a waiting process can name the holder.
//! * `.readers.lock`: held shared by every reader while it scans files, and
//!   taken exclusively (without waiting) by a writer before it deletes files
//!   a newer manifest no longer lists. A writer that cannot take it leaves the
//!   old files for a later run, so a reader never loses a file mid-scan.
//!
//! These are `flock`-style locks: the kernel drops them when the process
//! dies, so a crashed ingest never leaves the store locked. The holder text
//! left behind by a crash is only informative.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::StoreError;

pub(crate) const WRITER_LOCK: &str = ".lock";
pub(crate) const READERS_LOCK: &str = ".readers.lock";

/// An exclusive writer lock, released on drop.
#[derive(Debug)]
pub struct WriterLock {
    file: File,
    /// The holder text a crashed writer left behind, if any.
    pub previous: Option<String>,
}

impl Drop for WriterLock {
    fn drop(&mut self) {
        // Clear the holder text so a stale description never outlives us.
        let _ = self.file.set_len(0);
        let _ = self.file.unlock();
    }
}

/// Who holds (or last held) the writer lock, as written by the holder.
pub fn describe_holder(path: &Path) -> String {
    let mut text = String::new();
    if let Ok(mut f) = File::open(path) {
        let _ = f.read_to_string(&mut text);
    }
    let text = text.trim();
    if text.is_empty() {
        "another evmon process".to_string()
    } else {
        text.to_string()
    }
}

/// Take the writer lock of the store at `root`, waiting up to `timeout`.
/// `on_wait` is called once, with the holder's description, if we must wait.
pub fn lock_writer(
    root: &Path,
    timeout: Duration,
    on_wait: &mut dyn FnMut(&str),
) -> Result<WriterLock, StoreError> {
    let path = root.join(WRITER_LOCK);
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|source| StoreError::Io {
            path: path.clone(),
            action: "open the lock file",
            source,
        })?;
    let started = Instant::now();
    let mut waited = false;
    loop {
        match file.try_lock() {
            Ok(()) => break,
            Err(TryLockError::WouldBlock) => {
                let holder = describe_holder(&path);
                if started.elapsed() >= timeout {
                    return Err(StoreError::Locked {
                        path,
                        holder,
                        waited: timeout,
                    });
                }
                if !waited {
                    on_wait(&holder);
                    waited = true;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(TryLockError::Error(source)) => {
                return Err(StoreError::Io {
                    path,
                    action: "lock",
                    source,
                })
            }
        }
    }
    // A clean writer clears its text on release: text left here means the
    // last writer died holding the lock (the kernel released it).
    let mut left = String::new();
    let mut f = &file;
    let _ = f.seek(SeekFrom::Start(0));
    let _ = f.read_to_string(&mut left);
    let previous = Some(left.trim().to_string()).filter(|t| !t.is_empty());
    let mut lock = WriterLock { file, previous };
    let holder = format!(
        "pid {} ({}), since {}",
        std::process::id(),
        std::env::args().collect::<Vec<_>>().join(" "),
        chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ")
    );
    // Best effort: the description only helps a waiting process explain itself.
    let _ = lock.file.set_len(0);
    let _ = lock.file.seek(SeekFrom::Start(0));
    let _ = lock.file.write_all(holder.as_bytes());
    let _ = lock.file.flush();
    Ok(lock)
}

/// Whether a writer holds the store's lock right now.
pub fn is_held(root: &Path) -> bool {
    let Ok(file) = OpenOptions::new()
        .read(true)
        .write(true)
        .open(root.join(WRITER_LOCK))
    else {
        return false;
    };
    match file.try_lock() {
        Ok(()) => {
            let _ = file.unlock();
            false
        }
        Err(_) => true,
    }
}

/// A shared lock held while reading data files.
#[derive(Debug)]
pub struct ReaderLock {
    _file: Option<File>,
}

/// Take the shared reader lock. A read-only store (no permission to create
/// the lock file) is still readable: we read without the lock then.
pub fn lock_reader(root: &Path) -> ReaderLock {
    let path = root.join(READERS_LOCK);
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .or_else(|_| File::open(&path))
        .ok();
    if let Some(f) = &file {
        let _ = f.lock_shared();
    }
    ReaderLock { _file: file }
}

/// Try to take the readers lock exclusively without waiting: `Some` means no
/// reader is scanning, so superseded files may be deleted now.
pub fn try_lock_no_readers(root: &Path) -> Option<File> {
    let path: PathBuf = root.join(READERS_LOCK);
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .ok()?;
    match file.try_lock() {
        Ok(()) => Some(file),
        Err(_) => None,
    }
}
