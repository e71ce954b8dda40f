//! Bad input never panics and never loses a row silently: random bytes,
//! truncated files, odd encodings and line endings.

use crate::util::{stderr, testdata, Env};

/// Deterministic pseudo-random bytes (xorshift), no extra dependency.
fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x & 0xff) as u8
        })
        .collect()
}

fn no_panic(env: &Env, file: &std::path::Path) -> std::process::Output {
    let out = env
        .evmon()
        .args(["ingest", file.to_str().unwrap()])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert!(!err.contains("panicked"), "{}: {err}", file.display());
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{}: {err}",
        file.display()
    );
    out
}

#[test]
fn random_bytes_never_panic() {
    let env = Env::new();
    for seed in 1..=40u64 {
        let len = (seed as usize * 97) % 5000;
        let mut bytes = noise(seed, len);
        // Some with a plausible header in front, so rows get parsed.
        if seed % 2 == 0 {
            let mut with_header = b"station_id,start,stop,energy_kwh\n".to_vec();
            with_header.append(&mut bytes);
            bytes = with_header;
        }
        let ext = ["csv", "json", "txt", "bin"][(seed % 4) as usize];
        let file = env.write(&format!("noise-{seed}.{ext}"), bytes);
        no_panic(&env, &file);
    }
}

#[test]
fn truncated_files_keep_every_row_accounted_for() {
    let env = Env::new();
    for fixture in [
        "csv/paloalto.csv",
        "csv/acn.json",
        "csv/dundee.csv",
        "csv/norway.csv",
    ] {
        let full = std::fs::read(crate::util::repo().join(testdata(fixture))).unwrap();
        for cut in (0..full.len()).step_by(97) {
            let name = format!("cut-{cut}-{}", fixture.replace('/', "-"));
            let file = env.write(&name, &full[..cut]);
            let out = no_panic(&env, &file);
            if out.status.success() && cut > 0 {
                // rows in = sessions + rejected, always.
                let err = stderr(&out);
                let rows = number_before(&err, " rows");
                let sessions = number_before(&err, " sessions");
                let rejected = number_before(&err, " rejected");
                assert_eq!(rows, sessions + rejected, "{name}: {err}");
            }
        }
    }
}

fn number_before(text: &str, marker: &str) -> u64 {
    let end = text
        .find(marker)
        .unwrap_or_else(|| panic!("no '{marker}' in {text}"));
    let start = text[..end]
        .rfind(|c: char| !c.is_ascii_digit())
        .map_or(0, |i| i + 1);
    text[start..end].parse().unwrap()
}

#[test]
fn encodings_line_endings_and_empty_files() {
    let env = Env::new();
    let text = "station_id,start,stop,energy_kwh,site\nCP1,2026-10-01T08:00:00Z,2026-10-01T09:00:00Z,5,Café Süd\n";
    // UTF-8 with BOM and CRLF.
    let crlf = format!("\u{feff}{}", text.replace('\n', "\r\n"));
    env.ingest(&[env.write("bom-crlf.csv", crlf).to_str().unwrap()]);
    // Latin-1 (each char below U+0100 is one byte).
    let latin1: Vec<u8> = text
        .replace("2026-10-01T", "2026-10-02T")
        .chars()
        .map(|c| c as u32 as u8)
        .collect();
    env.ingest(&[env.write("latin1.csv", latin1).to_str().unwrap()]);
    // UTF-16LE with BOM.
    let mut utf16 = vec![0xFF, 0xFE];
    for unit in text.replace("2026-10-01T", "2026-10-03T").encode_utf16() {
        utf16.extend_from_slice(&unit.to_le_bytes());
    }
    env.ingest(&[env.write("utf16.csv", utf16).to_str().unwrap()]);
    let out = env.ingest(&[env.write("empty.csv", "").to_str().unwrap()]);
    assert!(stderr(&out).contains("empty"), "{}", stderr(&out));

    let stations = env.json(&["stations"]);
    assert_eq!(stations[0]["site"], "Café Süd");
    let sessions = env.json(&["sessions"]);
    assert_eq!(sessions.len(), 3, "{sessions:?}");
    assert!(sessions
        .iter()
        .all(|s| s["source_line"] == 2 && s["energy_wh"] == 5000.0));
    assert!(env.json(&["rejects"]).is_empty());
}

#[test]
fn binary_garbage_is_refused_by_name() {
    let env = Env::new();
    let mut bytes = vec![0u8; 64];
    bytes.extend(noise(7, 1000));
    let file = env.write("garbage.dat", bytes);
    let out = no_panic(&env, &file);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("garbage.dat: cannot tell what kind of file this is"));
}
