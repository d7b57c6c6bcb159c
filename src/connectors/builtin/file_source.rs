//! The file source: every complete new line of the files in a directory becomes a message.
//! Each file is a partition and its offset is the byte after the last line read, so a restart
//! continues where the committed position says, and a line still being written (no newline
//! yet) waits for its end.

use std::{
    collections::BTreeMap,
    io::{Read, Seek, SeekFrom},
    path::PathBuf,
    time::Duration,
};

use bytes::Bytes;
use regex::Regex;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::{owner, parse};
use crate::connectors::{
    api::{ConnectorFuture, Source, SourceContext, SourceOffset, SourceRecord},
    ConnectorError,
};

/// Bytes read from one file per poll; a longer line is read across polls.
const READ_CHUNK: usize = 1024 * 1024;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct FileSourceConfig {
    /// The directory whose files are read.
    input_directory: PathBuf,
    /// Regex a file name must match (Pulsar's default skips hidden files).
    #[serde(default = "default_filter")]
    file_filter: String,
    /// How long to wait when no file has a new line, ms.
    #[serde(default = "default_polling_interval")]
    polling_interval: u64,
    /// Lines per batch at most.
    #[serde(default = "default_batch")]
    max_batch: usize,
}

fn default_filter() -> String {
    "[^.].*".to_owned()
}

fn default_polling_interval() -> u64 {
    200
}

fn default_batch() -> usize {
    500
}

/// Checks the config and builds the source.
pub(super) fn build(configs: &Map<String, Value>) -> Result<Box<dyn Source>, ConnectorError> {
    let config: FileSourceConfig = parse(configs, "file source")?;
    let filter = Regex::new(&format!("^(?:{})$", config.file_filter))
        .map_err(|e| ConnectorError::invalid(format!("fileFilter: {e}")))?;
    if config.max_batch == 0 {
        return Err(ConnectorError::invalid("maxBatch must be positive"));
    }
    Ok(Box::new(FileSource {
        config,
        filter,
        offsets: BTreeMap::new(),
        instance: 0,
        parallelism: 1,
    }))
}

struct FileSource {
    config: FileSourceConfig,
    filter: Regex,
    /// Next byte to read per file name.
    offsets: BTreeMap<String, i64>,
    instance: u32,
    parallelism: u32,
}

/// What one blocking poll found.
struct Poll {
    lines: Vec<(String, Bytes, i64)>,
    offsets: BTreeMap<String, i64>,
}

impl Source for FileSource {
    fn open(&mut self, context: SourceContext) -> ConnectorFuture<'_, ()> {
        self.instance = context.instance;
        self.parallelism = context.parallelism;
        self.offsets = context.offsets;
        let dir = self.config.input_directory.clone();
        let shown = dir.clone();
        Box::pin(async move {
            let is_dir = tokio::task::spawn_blocking(move || dir.is_dir())
                .await
                .unwrap_or(false);
            if !is_dir {
                return Err(ConnectorError::external(
                    "file",
                    format!("input directory {} does not exist", shown.display()),
                ));
            }
            Ok(())
        })
    }

    fn read(&mut self) -> ConnectorFuture<'_, Vec<SourceRecord>> {
        Box::pin(async move {
            let dir = self.config.input_directory.clone();
            let filter = self.filter.clone();
            let offsets = self.offsets.clone();
            let (instance, parallelism, max) =
                (self.instance, self.parallelism, self.config.max_batch);
            let poll = tokio::task::spawn_blocking(move || {
                poll_directory(&dir, &filter, offsets, instance, parallelism, max)
            })
            .await
            .map_err(|e| ConnectorError::external("file", e))??;
            self.offsets = poll.offsets;
            if poll.lines.is_empty() {
                tokio::time::sleep(Duration::from_millis(self.config.polling_interval)).await;
            }
            Ok(poll
                .lines
                .into_iter()
                .map(|(file, line, offset)| SourceRecord {
                    key: Some(file.clone()),
                    value: line,
                    properties: vec![("file".to_owned(), file.clone())],
                    offset: Some(SourceOffset {
                        partition: file,
                        offset,
                    }),
                    ..SourceRecord::default()
                })
                .collect())
        })
    }
}

/// Reads complete new lines of this instance's files, in name order, up to `max` lines.
fn poll_directory(
    dir: &std::path::Path,
    filter: &Regex,
    mut offsets: BTreeMap<String, i64>,
    instance: u32,
    parallelism: u32,
    max: usize,
) -> Result<Poll, ConnectorError> {
    let io =
        |e: std::io::Error| ConnectorError::external("file", format!("{}: {e}", dir.display()));
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        if filter.is_match(&name)
            && owner(&name, parallelism) == instance
            && entry.file_type().map_err(io)?.is_file()
        {
            names.push(name);
        }
    }
    names.sort();
    let mut lines = Vec::new();
    for name in names {
        if lines.len() >= max {
            break;
        }
        let start = offsets.get(&name).copied().unwrap_or(0);
        let (found, next) = read_lines(&dir.join(&name), start, max - lines.len()).map_err(io)?;
        for (line, end) in found {
            lines.push((name.clone(), line, end));
        }
        offsets.insert(name, next);
    }
    Ok(Poll { lines, offsets })
}

/// Complete lines of `path` from byte `start` (at most `max`), each with the offset after
/// it, and the offset to continue from. A file shorter than `start` (truncated) is skipped.
fn read_lines(
    path: &std::path::Path,
    start: i64,
    max: usize,
) -> std::io::Result<(Vec<(Bytes, i64)>, i64)> {
    let mut file = std::fs::File::open(path)?;
    let len = file.metadata()?.len();
    let from = u64::try_from(start).unwrap_or(0);
    if len <= from {
        return Ok((Vec::new(), start));
    }
    file.seek(SeekFrom::Start(from))?;
    let want = usize::try_from(len - from)
        .unwrap_or(READ_CHUNK)
        .min(READ_CHUNK);
    let mut buf = Vec::with_capacity(want);
    file.take(want as u64).read_to_end(&mut buf)?;
    let buf = Bytes::from(buf);
    let mut out = Vec::new();
    let mut line_start = 0usize;
    for (i, byte) in buf.iter().enumerate() {
        if out.len() >= max {
            break;
        }
        if *byte == b'\n' {
            let mut end = i;
            if end > line_start && buf.get(end - 1) == Some(&b'\r') {
                end -= 1;
            }
            let after = start + i64::try_from(i + 1).unwrap_or(i64::MAX);
            out.push((buf.slice(line_start..end), after));
            line_start = i + 1;
        }
    }
    let next = start + i64::try_from(line_start).unwrap_or(0);
    Ok((out, next))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_complete_lines_are_read_and_offsets_point_past_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.txt");
        std::fs::write(&path, "one\r\ntwo\nthr").unwrap();
        let (lines, next) = read_lines(&path, 0, 10).unwrap();
        let texts: Vec<_> = lines.iter().map(|(l, _)| l.clone()).collect();
        assert_eq!(texts, [Bytes::from("one"), Bytes::from("two")]);
        assert_eq!(lines[0].1, 5);
        assert_eq!(next, 9);
        std::fs::write(&path, "one\r\ntwo\nthree\n").unwrap();
        let (lines, next) = read_lines(&path, next, 10).unwrap();
        assert_eq!(lines[0].0, Bytes::from("three"));
        assert_eq!(next, 15);
        let (lines, _) = read_lines(&path, 0, 1).unwrap();
        assert_eq!(lines.len(), 1);
    }

    #[test]
    fn directory_poll_filters_names_and_splits_files_between_instances() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["a.txt", "b.txt", ".hidden", "c.txt"] {
            std::fs::write(dir.path().join(name), "x\n").unwrap();
        }
        let filter = Regex::new("^(?:[^.].*)$").unwrap();
        let all = poll_directory(dir.path(), &filter, BTreeMap::new(), 0, 1, 100).unwrap();
        assert_eq!(all.lines.len(), 3);
        let mut split = 0;
        for instance in 0..2 {
            split += poll_directory(dir.path(), &filter, BTreeMap::new(), instance, 2, 100)
                .unwrap()
                .lines
                .len();
        }
        assert_eq!(split, 3);
        let again = poll_directory(dir.path(), &filter, all.offsets, 0, 1, 100).unwrap();
        assert!(again.lines.is_empty());
    }
}
