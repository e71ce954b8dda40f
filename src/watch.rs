//! `evmon watch` without the I/O loop: following growing log files (offsets
//! that survive restarts and rotation), holding back a CALL until its answer
//! is written, and deciding when a live condition alerts (debouncing).

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum WatchError {
    #[error("cannot read the watch state {path}: {message}; delete it to start over (files are read again from the start, the store drops what it already has)")]
    State { path: String, message: String },
    #[error("cannot write the watch state {path}: {source}")]
    Save { path: String, source: io::Error },
}

/// How far one followed file has been read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileState {
    /// Inode of the file read: another inode under the same name means the
    /// log was rotated.
    pub inode: u64,
    /// Bytes read and stored (always at a line end).
    pub offset: u64,
    /// Lines read, so rejects keep the file's line numbers.
    pub lines: u64,
}

/// What `evmon watch` keeps between runs, in the store (`watch/state.json`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct State {
    pub files: BTreeMap<String, FileState>,
    /// Conditions alerted and not cleared since: key → first alerted (UTC).
    pub alerted: BTreeMap<String, String>,
    /// Last frame seen per charge point (UTC), for "station silent".
    pub last_seen: BTreeMap<String, String>,
    /// Heartbeat interval per charge point, from its BootNotification answer.
    pub heartbeat_s: BTreeMap<String, i64>,
}

impl State {
    /// The saved state, or a new one when there is none yet.
    pub fn load(path: &Path) -> Result<State, WatchError> {
        let text = match fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(State::default()),
            Err(e) => {
                return Err(WatchError::State {
                    path: path.display().to_string(),
                    message: e.to_string(),
                })
            }
        };
        serde_json::from_str(&text).map_err(|e| WatchError::State {
            path: path.display().to_string(),
            message: e.to_string(),
        })
    }

    /// Replace the saved state atomically (temp file, fsync, rename).
    pub fn save(&self, path: &Path) -> Result<(), WatchError> {
        let err = |source| WatchError::Save {
            path: path.display().to_string(),
            source,
        };
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).map_err(err)?;
        }
        let tmp = path.with_extension("json.tmp");
        let mut f = File::create(&tmp).map_err(err)?;
        let text = serde_json::to_vec_pretty(self).unwrap_or_default();
        f.write_all(&text).map_err(err)?;
        f.sync_all().map_err(err)?;
        fs::rename(&tmp, path).map_err(err)
    }

    /// A file first seen under `path` that has the inode of a file we were
    /// following under another name was renamed by log rotation: carry its
    /// position over so its tail is read, not the whole file again.
    pub fn adopt_renamed(
        &mut self,
        path: &str,
        inode: u64,
        still_there: &dyn Fn(&str) -> Option<u64>,
    ) {
        if self.files.contains_key(path) {
            return;
        }
        let moved = self
            .files
            .iter()
            .find(|(p, s)| s.inode == inode && still_there(p) != Some(inode))
            .map(|(p, s)| (p.clone(), s.clone()));
        if let Some((old, state)) = moved {
            self.files.remove(&old);
            self.files.insert(path.to_string(), state);
        }
    }
}

/// Complete lines appended to a followed file.
#[derive(Debug, Clone, PartialEq)]
pub struct Chunk {
    pub path: String,
    /// Lines of the file before `bytes`.
    pub first_line: u64,
    pub bytes: Vec<u8>,
    /// The file's state once `bytes` are stored.
    pub next: FileState,
}

impl Chunk {
    /// Keep only the first `len` bytes (a line end), for the next read to
    /// start there.
    pub fn truncate(&mut self, len: usize) {
        let dropped = &self.bytes[len..];
        self.next.offset -= dropped.len() as u64;
        self.next.lines -= dropped.iter().filter(|b| **b == b'\n').count() as u64;
        self.bytes.truncate(len);
    }
}

/// Read what was appended to `path` since `state`, up to `max_bytes`, ending
/// at the last complete line. A different inode, or a file now shorter than
/// what was read, is a new file (rotated or truncated): read from its start.
pub fn read_new(
    path: &Path,
    inode: u64,
    state: Option<&FileState>,
    max_bytes: usize,
) -> io::Result<Option<Chunk>> {
    let mut file = File::open(path)?;
    let len = file.metadata()?.len();
    let start = match state {
        Some(s) if s.inode == inode && s.offset <= len => s.clone(),
        _ => FileState {
            inode,
            offset: 0,
            lines: 0,
        },
    };
    if len <= start.offset {
        return Ok(None);
    }
    file.seek(SeekFrom::Start(start.offset))?;
    let want = ((len - start.offset) as usize).min(max_bytes);
    let mut bytes = vec![0; want];
    file.read_exact(&mut bytes)?;
    // A line still being written stays for the next read.
    let Some(end) = bytes.iter().rposition(|b| *b == b'\n') else {
        return Ok(None);
    };
    bytes.truncate(end + 1);
    let lines = bytes.iter().filter(|b| **b == b'\n').count() as u64;
    Ok(Some(Chunk {
        path: path.to_string_lossy().into_owned(),
        first_line: start.lines,
        next: FileState {
            inode,
            offset: start.offset + bytes.len() as u64,
            lines: start.lines + lines,
        },
        bytes,
    }))
}

/// What a line of an OCPP dump says, read cheaply: enough to pair CALLs,
/// see charge points alive and learn their heartbeat interval.
#[derive(Debug, Clone, PartialEq)]
pub struct Glance {
    pub cp: Option<String>,
    pub ts: Option<DateTime<Utc>>,
    pub kind: u64,
    pub id: String,
    /// `interval` of a BootNotification answer.
    pub interval: Option<i64>,
}

/// Glance at one line: a JSON envelope (`{"ts","cp","msg":[...]}`) or a raw
/// log line whose frame starts at the first `[`.
pub fn glance(line: &[u8]) -> Option<Glance> {
    let text = std::str::from_utf8(line).ok()?.trim();
    let (cp, ts, msg) = if text.starts_with('{') {
        let v: Value = serde_json::from_str(text).ok()?;
        let ts = v
            .get("ts")
            .and_then(Value::as_str)
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&Utc));
        let cp = v.get("cp").and_then(Value::as_str).map(str::to_string);
        (cp, ts, v.get("msg")?.clone())
    } else {
        let at = text.find('[')?;
        (None, None, serde_json::from_str(&text[at..]).ok()?)
    };
    let msg = msg.as_array()?;
    let kind = msg.first()?.as_u64()?;
    let id = msg.get(1)?.as_str()?.to_string();
    let interval = if kind == 3 {
        msg.get(2)
            .and_then(|p| p.get("interval"))
            .and_then(Value::as_i64)
            .filter(|_| msg.get(2).and_then(|p| p.get("status")).is_some())
    } else {
        None
    };
    Some(Glance {
        cp,
        ts,
        kind,
        id,
        interval,
    })
}

/// Bytes of `chunk` that can be stored now: everything before the first
/// CALL whose answer is not in the chunk yet (the 1.6 transactionId comes
/// in the answer, so a CALL stored alone would lose its session).
pub fn pairable_prefix(chunk: &[u8]) -> usize {
    let mut answered = BTreeSet::new();
    let mut calls = Vec::new();
    let mut pos = 0;
    for line in chunk.split_inclusive(|b| *b == b'\n') {
        if let Some(g) = glance(line) {
            match g.kind {
                2 => calls.push((pos, (g.cp.clone(), g.id))),
                3 | 4 => {
                    answered.insert((g.cp, g.id));
                }
                _ => {}
            }
        }
        pos += line.len();
    }
    calls
        .into_iter()
        .find(|(_, key)| !answered.contains(key))
        .map_or(chunk.len(), |(at, _)| at)
}

/// One condition found by the rules, as debouncing sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    /// Stable identity: the same condition on the next evaluation.
    pub key: String,
    /// When it became true.
    pub since: DateTime<Utc>,
    /// Events that cannot clear (a spike happened) alert at once; states
    /// (a fault, a silence, an open session) must persist for the debounce.
    pub immediate: bool,
}

/// The keys to alert now, given the conditions true now. A condition alerts
/// once; when it is no longer true it is forgotten, so it can alert again.
pub fn debounce(
    alerted: &mut BTreeMap<String, String>,
    now: DateTime<Utc>,
    wait: Duration,
    active: &[Condition],
) -> Vec<String> {
    let keys: BTreeSet<&str> = active.iter().map(|c| c.key.as_str()).collect();
    alerted.retain(|k, _| keys.contains(k.as_str()));
    let mut out = Vec::new();
    for c in active {
        if alerted.contains_key(&c.key) {
            continue;
        }
        if c.immediate || now - c.since >= wait {
            alerted.insert(c.key.clone(), crate::timeutil::format_utc(now));
            out.push(c.key.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn cond(key: &str, since: &str, immediate: bool) -> Condition {
        Condition {
            key: key.into(),
            since: t(since),
            immediate,
        }
    }

    #[test]
    fn a_fault_cleared_within_the_debounce_never_alerts() {
        let mut alerted = BTreeMap::new();
        let wait = Duration::minutes(2);
        let fault = cond("faulted|CP1|1", "2026-10-01T08:00:00Z", false);
        assert!(debounce(
            &mut alerted,
            t("2026-10-01T08:01:00Z"),
            wait,
            std::slice::from_ref(&fault)
        )
        .is_empty());
        // Cleared at 08:01:30: nothing to alert, nothing remembered.
        assert!(debounce(&mut alerted, t("2026-10-01T08:01:30Z"), wait, &[]).is_empty());
        assert!(alerted.is_empty());
    }

    #[test]
    fn a_lasting_condition_alerts_once_and_again_after_it_cleared() {
        let mut alerted = BTreeMap::new();
        let wait = Duration::minutes(2);
        let fault = cond("faulted|CP1|1", "2026-10-01T08:00:00Z", false);
        let at = |s| t(s);
        assert_eq!(
            debounce(
                &mut alerted,
                at("2026-10-01T08:02:00Z"),
                wait,
                std::slice::from_ref(&fault)
            )
            .len(),
            1
        );
        assert!(debounce(
            &mut alerted,
            at("2026-10-01T08:05:00Z"),
            wait,
            std::slice::from_ref(&fault)
        )
        .is_empty());
        assert!(debounce(&mut alerted, at("2026-10-01T08:06:00Z"), wait, &[]).is_empty());
        assert_eq!(
            debounce(&mut alerted, at("2026-10-01T08:09:00Z"), wait, &[fault]).len(),
            1
        );
    }

    #[test]
    fn events_alert_at_once() {
        let mut alerted = BTreeMap::new();
        let spike = cond("power_spike|CP1|1|s1", "2026-10-01T08:00:00Z", true);
        let out = debounce(
            &mut alerted,
            t("2026-10-01T08:00:01Z"),
            Duration::minutes(2),
            &[spike],
        );
        assert_eq!(out, vec!["power_spike|CP1|1|s1".to_string()]);
    }

    #[test]
    fn calls_wait_for_their_answer() {
        let chunk = b"{\"ts\":\"2026-10-01T08:00:00Z\",\"cp\":\"A\",\"dir\":\"in\",\"msg\":[2,\"h1\",\"Heartbeat\",{}]}\n\
{\"ts\":\"2026-10-01T08:00:00Z\",\"cp\":\"A\",\"dir\":\"out\",\"msg\":[3,\"h1\",{\"currentTime\":\"2026-10-01T08:00:00Z\"}]}\n\
{\"ts\":\"2026-10-01T08:00:05Z\",\"cp\":\"A\",\"dir\":\"in\",\"msg\":[2,\"s1\",\"StartTransaction\",{}]}\n";
        let cut = pairable_prefix(chunk);
        let text = std::str::from_utf8(&chunk[..cut]).unwrap();
        assert_eq!(text.lines().count(), 2);
        assert!(text.ends_with("}]}\n"));
    }

    #[test]
    fn reads_complete_lines_and_follows_rotation() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cp.jsonl");
        fs::write(&path, "a\nb\nhalf").unwrap();
        let c = read_new(&path, 7, None, 1 << 20).unwrap().unwrap();
        assert_eq!(c.bytes, b"a\nb\n");
        assert_eq!((c.first_line, c.next.lines, c.next.offset), (0, 2, 4));
        assert!(read_new(&path, 7, Some(&c.next), 1 << 20)
            .unwrap()
            .is_none());
        // Another inode under the same name: read from the start.
        let c2 = read_new(&path, 8, Some(&c.next), 1 << 20).unwrap().unwrap();
        assert_eq!(c2.next.offset, 4);
        assert_eq!(c2.first_line, 0);
        let mut c3 = c2.clone();
        c3.truncate(2);
        assert_eq!((c3.next.offset, c3.next.lines, c3.bytes.len()), (2, 1, 2));
    }

    #[test]
    fn glance_reads_envelopes_and_log_lines() {
        let g = glance(br#"{"ts":"2026-10-01T08:00:00Z","cp":"A","dir":"out","msg":[3,"b1",{"status":"Accepted","currentTime":"2026-10-01T08:00:00Z","interval":300}]}"#).unwrap();
        assert_eq!(
            (g.kind, g.interval, g.cp.as_deref()),
            (3, Some(300), Some("A"))
        );
        let g = glance(br#"2026-10-01T08:00:00Z -> [2,"x","Heartbeat",{}]"#).unwrap();
        assert_eq!((g.kind, g.id.as_str()), (2, "x"));
        assert!(glance(b"garbage").is_none());
    }
}
