//! The optional `evmon.toml`: defaults for thresholds that would be too
//! many for flags. Found via `--config`, `$EVMON_CONFIG`, then
//! `./evmon.toml`; a missing default file is fine, a broken one is an error
//! naming the key and line.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use thiserror::Error;

use crate::anomaly::Rules;

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}:{line}: {message}")]
    Parse {
        path: PathBuf,
        line: usize,
        message: String,
    },
}

/// The settings of `evmon.toml`. Unknown sections are left for other
/// evmon versions; unknown keys inside a known section are errors. Paths
/// are relative to the file's directory.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Config {
    /// Store directory (`--data`).
    pub data: Option<PathBuf>,
    /// Output format of every command (`--format`): auto, table, csv, json.
    pub format: Option<String>,
    /// Tariff file of `evmon bill` (`--tariff`).
    pub tariff: Option<PathBuf>,
    /// Station metadata read by every `evmon ingest` (`--stations`).
    pub stations: Option<PathBuf>,
    /// Thresholds of `evmon anomalies`.
    #[serde(default)]
    pub anomalies: Rules,
    /// Where the settings came from, for messages.
    #[serde(skip)]
    pub source: Option<PathBuf>,
}

/// Load the configuration: `explicit` (from `--config` or
/// `$EVMON_CONFIG`) must exist; `./evmon.toml` is used when present.
pub fn load(explicit: Option<&Path>) -> Result<Config, ConfigError> {
    let path = match explicit {
        Some(p) => p.to_path_buf(),
        None => {
            let local = PathBuf::from("evmon.toml");
            if !local.is_file() {
                return Ok(Config::default());
            }
            local
        }
    };
    let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Io {
        path: path.clone(),
        source,
    })?;
    let mut config = parse(&path, &text)?;
    // Paths in the file are relative to where the file is.
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    for p in [&mut config.data, &mut config.tariff, &mut config.stations]
        .into_iter()
        .flatten()
    {
        if p.is_relative() {
            *p = base.join(&*p);
        }
    }
    if let Some(f) = &config.format {
        if !["auto", "table", "csv", "json"].contains(&f.as_str()) {
            return Err(ConfigError::Parse {
                path: path.clone(),
                line: text
                    .lines()
                    .position(|l| l.trim_start().starts_with("format"))
                    .map_or(0, |i| i + 1),
                message: format!("format = \"{f}\": use auto, table, csv or json"),
            });
        }
    }
    config.source = Some(path);
    Ok(config)
}

/// Keys of the `[anomalies]` section the file sets (for `config show`).
pub fn anomaly_keys_set(config: &Config) -> Vec<String> {
    let Some(path) = &config.source else {
        return Vec::new();
    };
    std::fs::read_to_string(path)
        .ok()
        .and_then(|t| t.parse::<toml::Table>().ok())
        .and_then(|t| t.get("anomalies").and_then(|a| a.as_table()).cloned())
        .map(|a| a.keys().cloned().collect())
        .unwrap_or_default()
}

pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigError> {
    toml::from_str(text).map_err(|e| ConfigError::Parse {
        path: path.to_path_buf(),
        line: e.span().map_or(0, |s| {
            text[..s.start.min(text.len())].matches('\n').count() + 1
        }),
        message: e.message().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anomaly_thresholds_from_toml() {
        let c = parse(
            Path::new("evmon.toml"),
            "[anomalies]\nidle_hours = 2.5\n\n[future]\nx = 1\n",
        )
        .unwrap();
        assert_eq!(c.anomalies.idle_hours, 2.5);
        assert_eq!(c.anomalies.outlier_z, Rules::default().outlier_z);
        let e = parse(
            Path::new("evmon.toml"),
            "[anomalies]\nidle_hours = 2.5\nidle_hour = 3\n",
        )
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("evmon.toml:3:"), "{e}");
        assert!(e.contains("idle_hour"), "{e}");
    }
}
