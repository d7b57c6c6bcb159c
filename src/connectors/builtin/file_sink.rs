//! The file sink: every message becomes one line of `{outputDirectory}/{filePrefix}-{instance}.txt`.
//!
//! Under effectively-once it keeps a sidecar `<file>.position` with the committed length of
//! the file and the highest message position per topic, written (atomically, by rename) after
//! the data is synced. A restart truncates the file back to that length, which removes lines
//! whose messages were not committed, and the runtime skips messages at or below the
//! positions: one line per message.

use std::{
    collections::BTreeMap,
    io::Write,
    path::{Path, PathBuf},
};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::parse;
use crate::connectors::{
    api::{CommittedPositions, ConnectorFuture, Sink, SinkContext, SinkRecord},
    config::ProcessingGuarantee,
    ConnectorError,
};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct FileSinkConfig {
    /// Where the output files go.
    output_directory: PathBuf,
    /// File name prefix (default: the connector's name).
    #[serde(default)]
    file_prefix: Option<String>,
    /// fsync after every batch (default true); off trades durability for speed.
    #[serde(default = "yes")]
    sync: bool,
}

fn yes() -> bool {
    true
}

/// The sidecar document.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Committed {
    length: u64,
    positions: CommittedPositions,
}

/// Checks the config and builds the sink.
pub(super) fn build(configs: &Map<String, Value>) -> Result<Box<dyn Sink>, ConnectorError> {
    let config: FileSinkConfig = parse(configs, "file sink")?;
    Ok(Box::new(FileSink {
        config,
        path: PathBuf::new(),
        committed: None,
    }))
}

struct FileSink {
    config: FileSinkConfig,
    path: PathBuf,
    /// The sidecar's content, under effectively-once.
    committed: Option<Committed>,
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> ConnectorError + '_ {
    move |e| ConnectorError::external("file", format!("{}: {e}", path.display()))
}

fn sidecar(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".position");
    PathBuf::from(name)
}

/// Opens the output under effectively-once: truncates lines written after the last commit.
fn recover(path: &Path) -> Result<Committed, ConnectorError> {
    let side = sidecar(path);
    let committed: Committed = match std::fs::read(&side) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map_err(|e| ConnectorError::external("file", format!("{}: {e}", side.display())))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Committed {
            // Lines already there belong to nobody's position: keep them.
            length: std::fs::metadata(path).map_or(0, |m| m.len()),
            positions: CommittedPositions::new(),
        },
        Err(e) => return Err(io(&side)(e)),
    };
    let file = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(false)
        .open(path)
        .map_err(io(path))?;
    if file.metadata().map_err(io(path))?.len() > committed.length {
        file.set_len(committed.length).map_err(io(path))?;
        file.sync_all().map_err(io(path))?;
    }
    Ok(committed)
}

/// Appends the lines, syncs, and (effectively-once) commits the sidecar by rename.
fn append(
    path: &Path,
    lines: &[u8],
    sync: bool,
    committed: Option<&Committed>,
) -> Result<(), ConnectorError> {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(io(path))?;
    file.write_all(lines).map_err(io(path))?;
    if sync || committed.is_some() {
        file.sync_data().map_err(io(path))?;
    }
    if let Some(committed) = committed {
        let side = sidecar(path);
        let tmp = side.with_extension("position.tmp");
        let doc = serde_json::to_vec(committed).map_err(|e| ConnectorError::external("file", e))?;
        let mut out = std::fs::File::create(&tmp).map_err(io(&tmp))?;
        out.write_all(&doc).map_err(io(&tmp))?;
        out.sync_all().map_err(io(&tmp))?;
        std::fs::rename(&tmp, &side).map_err(io(&side))?;
        if let Some(dir) = side.parent() {
            std::fs::File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(io(dir))?;
        }
    }
    Ok(())
}

impl Sink for FileSink {
    fn open(&mut self, context: SinkContext) -> ConnectorFuture<'_, ()> {
        let prefix = self
            .config
            .file_prefix
            .clone()
            .unwrap_or_else(|| context.id.name.clone());
        self.path = self
            .config
            .output_directory
            .join(format!("{prefix}-{}.txt", context.instance));
        let effectively_once = context.guarantee == ProcessingGuarantee::EffectivelyOnce;
        let (dir, path) = (self.config.output_directory.clone(), self.path.clone());
        Box::pin(async move {
            let committed = tokio::task::spawn_blocking(move || {
                std::fs::create_dir_all(&dir).map_err(io(&dir))?;
                effectively_once.then(|| recover(&path)).transpose()
            })
            .await
            .map_err(|e| ConnectorError::external("file", e))??;
            self.committed = committed;
            Ok(())
        })
    }

    fn write(&mut self, records: Vec<SinkRecord>) -> ConnectorFuture<'_, ()> {
        let mut lines = Vec::new();
        let mut highest = BTreeMap::new();
        for record in &records {
            lines.extend_from_slice(&record.value);
            lines.push(b'\n');
            let slot = highest
                .entry(record.topic.clone())
                .or_insert(record.position);
            *slot = (*slot).max(record.position);
        }
        let next = self.committed.as_ref().map(|c| {
            let mut positions = c.positions.clone();
            positions.extend(highest);
            Committed {
                length: c.length + lines.len() as u64,
                positions,
            }
        });
        let (path, sync) = (self.path.clone(), self.config.sync);
        Box::pin(async move {
            let next = tokio::task::spawn_blocking(move || {
                append(&path, &lines, sync, next.as_ref()).map(|()| next)
            })
            .await
            .map_err(|e| ConnectorError::external("file", e))??;
            if next.is_some() {
                self.committed = next;
            }
            Ok(())
        })
    }

    fn supports_effectively_once(&self) -> bool {
        true
    }

    fn committed(&mut self) -> ConnectorFuture<'_, CommittedPositions> {
        let positions = self
            .committed
            .as_ref()
            .map(|c| c.positions.clone())
            .unwrap_or_default();
        Box::pin(async move { Ok(positions) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connectors::api::MessagePosition;

    #[test]
    fn recovery_truncates_lines_written_after_the_last_commit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.txt");
        let position = MessagePosition {
            ledger_id: 1,
            entry_id: 4,
            batch_index: -1,
        };
        let committed = Committed {
            length: 4,
            positions: CommittedPositions::from([("t".to_owned(), position)]),
        };
        append(&path, b"abc\n", true, Some(&committed)).unwrap();
        // A crash between the data write and the sidecar write leaves extra lines behind.
        append(&path, b"def\n", true, None).unwrap();
        let recovered = recover(&path).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"abc\n");
        assert_eq!(recovered.positions["t"], position);
    }

    #[test]
    fn recovery_without_a_sidecar_keeps_existing_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.txt");
        std::fs::write(&path, "old\n").unwrap();
        let recovered = recover(&path).unwrap();
        assert_eq!(recovered.length, 4);
        assert_eq!(std::fs::read(&path).unwrap(), b"old\n");
    }
}
