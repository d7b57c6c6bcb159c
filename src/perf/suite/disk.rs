//! The physical reference: sequential write speed and fsync latency of the data filesystem.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use super::table::percentile;
use super::SuiteError;

/// Size of one sequential write.
const CHUNK: usize = 1024 * 1024;
/// Size of one write in the fsync latency probe (a small durable append).
const PROBE: usize = 4096;

/// What the disk can do.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct DiskReport {
    /// Sequential write speed including the final fsync, in MiB/s.
    pub write_mib_per_sec: f64,
    /// Sequential write speed with an fdatasync after every 1 MiB chunk, in MiB/s: the
    /// ceiling for a log that must make each group durable before acknowledging it, and less
    /// flattered by the page cache and the host's write cache than one sync at the end.
    pub durable_mib_per_sec: f64,
    /// Median of one 4 KiB write + fdatasync.
    pub fsync_p50: Duration,
    /// 99th percentile of the same.
    pub fsync_p99: Duration,
}

/// Writes `bytes` sequentially (1 MiB chunks, one fsync at the end), then again with an
/// fdatasync after every chunk, then times `fsyncs` 4 KiB appends each followed by
/// fdatasync, all in files under `dir`, removed afterwards.
///
/// # Errors
/// [`SuiteError::Io`] when the files cannot be written.
pub fn measure(dir: &Path, bytes: u64, fsyncs: usize) -> Result<DiskReport, SuiteError> {
    let seq = dir.join("disk-sequential.bin");
    let write_mib_per_sec = removing(&seq, |path| sequential(path, bytes, false))?;
    let durable_mib_per_sec = removing(&seq, |path| sequential(path, bytes, true))?;
    let probe = dir.join("disk-fsync.bin");
    let mut samples = removing(&probe, |path| fsync_latencies(path, fsyncs))?;
    samples.sort_unstable();
    Ok(DiskReport {
        write_mib_per_sec,
        durable_mib_per_sec,
        fsync_p50: percentile(&samples, 0.5),
        fsync_p99: percentile(&samples, 0.99),
    })
}

/// Runs `measure` on the file at `path` and removes the file, whether it succeeded or not.
fn removing<T>(
    path: &Path,
    measure: impl FnOnce(&Path) -> Result<T, SuiteError>,
) -> Result<T, SuiteError> {
    let result = measure(path);
    let _ = std::fs::remove_file(path);
    result
}

fn io(context: &str, path: &Path) -> impl Fn(std::io::Error) -> SuiteError {
    let context = format!("{context} {}", path.display());
    move |source| SuiteError::Io {
        context: context.clone(),
        source,
    }
}

/// MiB/s of writing `bytes` to `path` and syncing it, after every chunk when `sync_each`.
fn sequential(path: &Path, bytes: u64, sync_each: bool) -> Result<f64, SuiteError> {
    let mut file = File::create(path).map_err(io("creating", path))?;
    // Not all zeros, so a compressing or deduplicating filesystem cannot cheat.
    let chunk: Vec<u8> = (0..CHUNK)
        .map(|i| u8::try_from(i.wrapping_mul(31) % 251).unwrap_or(0))
        .collect();
    let chunks = bytes.div_ceil(CHUNK as u64).max(1);
    let start = Instant::now();
    for _ in 0..chunks {
        file.write_all(&chunk).map_err(io("writing", path))?;
        if sync_each {
            file.sync_data().map_err(io("syncing", path))?;
        }
    }
    file.sync_all().map_err(io("syncing", path))?;
    let secs = start.elapsed().as_secs_f64();
    #[allow(clippy::cast_precision_loss, reason = "rates are approximate")]
    let mib = (chunks * CHUNK as u64) as f64 / (1024.0 * 1024.0);
    Ok(if secs > 0.0 { mib / secs } else { 0.0 })
}

/// Durations of `count` rounds of a 4 KiB append + fdatasync.
fn fsync_latencies(path: &Path, count: usize) -> Result<Vec<Duration>, SuiteError> {
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(io("creating", path))?;
    let block = [0x5a_u8; PROBE];
    let mut samples = Vec::with_capacity(count);
    for _ in 0..count {
        let start = Instant::now();
        file.write_all(&block).map_err(io("writing", path))?;
        file.sync_data().map_err(io("syncing", path))?;
        samples.push(start.elapsed());
    }
    Ok(samples)
}

/// Total size in bytes of the regular files under `path` (0 for a missing path); what a data
/// directory occupies.
#[must_use]
pub fn dir_size(path: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(path) else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .map(|entry| match entry.file_type() {
            Ok(kind) if kind.is_dir() => dir_size(&entry.path()),
            Ok(kind) if kind.is_file() => entry.metadata().map_or(0, |m| m.len()),
            _ => 0,
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dir_size_counts_nested_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a"), [0u8; 100]).unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub").join("b"), [0u8; 23]).unwrap();
        assert_eq!(dir_size(dir.path()), 123);
        assert_eq!(dir_size(&dir.path().join("missing")), 0);
    }

    #[test]
    fn small_measurement_cleans_up() {
        let dir = tempfile::tempdir().unwrap();
        let report = measure(dir.path(), 1, 3).unwrap();
        assert!(report.write_mib_per_sec > 0.0 && report.durable_mib_per_sec > 0.0);
        assert!(report.fsync_p50 <= report.fsync_p99);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
