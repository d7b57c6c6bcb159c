//! What the suite reads from `/proc` (the machine, a process's RSS) and from `df` (free space).

use std::path::Path;
use std::process::Command;

/// The machine a run happened on, for the table heading.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Machine {
    /// `model name` of the first CPU in `/proc/cpuinfo`.
    pub cpu_model: String,
    /// Logical CPUs listed in `/proc/cpuinfo`.
    pub cores: usize,
    /// `MemTotal` of `/proc/meminfo`, in KiB.
    pub memory_kib: u64,
    /// `/proc/sys/kernel/osrelease`.
    pub kernel: String,
}

impl Machine {
    /// Reads the running machine; unreadable files leave their fields empty or zero.
    #[must_use]
    pub fn current() -> Self {
        let read = |path: &str| std::fs::read_to_string(path).unwrap_or_default();
        let (cpu_model, cores) = parse_cpuinfo(&read("/proc/cpuinfo"));
        Machine {
            cpu_model,
            cores,
            memory_kib: parse_kib_field(&read("/proc/meminfo"), "MemTotal").unwrap_or(0),
            kernel: read("/proc/sys/kernel/osrelease").trim().to_owned(),
        }
    }

    /// One line, e.g. "AMD EPYC 7B13, 2 cores, 23.4 GiB RAM, Linux 6.1.0".
    #[must_use]
    pub fn describe(&self) -> String {
        #[allow(clippy::cast_precision_loss, reason = "display only")]
        let gib = self.memory_kib as f64 / (1024.0 * 1024.0);
        format!(
            "{}, {} cores, {gib:.1} GiB RAM, Linux {}",
            if self.cpu_model.is_empty() {
                "unknown CPU"
            } else {
                &self.cpu_model
            },
            self.cores,
            self.kernel
        )
    }
}

/// The first `model name` and the number of `processor` entries of `/proc/cpuinfo` text.
#[must_use]
pub fn parse_cpuinfo(text: &str) -> (String, usize) {
    let mut model = String::new();
    let mut cores = 0;
    for line in text.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        match key.trim() {
            "processor" => cores += 1,
            "model name" if model.is_empty() => value.trim().clone_into(&mut model),
            _ => {}
        }
    }
    (model, cores)
}

/// A `Key:   123 kB` field of `/proc/meminfo` or `/proc/<pid>/status`, in KiB.
#[must_use]
pub fn parse_kib_field(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        if name.trim() != key {
            return None;
        }
        value.split_whitespace().next()?.parse().ok()
    })
}

/// Resident set size of process `pid` in bytes (`VmRSS`), or `None` when it is gone.
#[must_use]
pub fn rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    parse_kib_field(&status, "VmRSS").map(|kib| kib.saturating_mul(1024))
}

/// Free bytes on the filesystem holding `path`, from `df -Pk`; `None` when `df` fails.
#[must_use]
pub fn available_bytes(path: &Path) -> Option<u64> {
    let output = Command::new("df").arg("-Pk").arg(path).output().ok()?;
    if !output.status.success() {
        return None;
    }
    parse_df_available(&String::from_utf8_lossy(&output.stdout))
}

/// The `Available` column (KiB) of `df -Pk` output for one path, in bytes.
#[must_use]
pub fn parse_df_available(text: &str) -> Option<u64> {
    let line = text.lines().nth(1)?;
    let kib: u64 = line.split_whitespace().nth(3)?.parse().ok()?;
    Some(kib.saturating_mul(1024))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpuinfo_model_and_cores() {
        let text = "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7B13\n\n\
                    processor\t: 1\nmodel name\t: AMD EPYC other\n";
        assert_eq!(parse_cpuinfo(text), ("AMD EPYC 7B13".to_owned(), 2));
        assert_eq!(parse_cpuinfo(""), (String::new(), 0));
    }

    #[test]
    fn kib_fields_of_meminfo_and_status() {
        let meminfo = "MemTotal:       24591212 kB\nMemFree:         1234 kB\n";
        assert_eq!(parse_kib_field(meminfo, "MemTotal"), Some(24_591_212));
        assert_eq!(parse_kib_field(meminfo, "MemFree"), Some(1234));
        let status = "Name:\tgeminga\nVmPeak:\t  900 kB\nVmRSS:\t   51234 kB\n";
        assert_eq!(parse_kib_field(status, "VmRSS"), Some(51_234));
        assert_eq!(parse_kib_field(status, "VmSwap"), None);
        assert_eq!(parse_kib_field("VmRSS: lots kB", "VmRSS"), None);
    }

    #[test]
    fn own_rss_is_readable() {
        let rss = rss_bytes(std::process::id()).unwrap();
        assert!(
            rss > 1024 * 1024,
            "a test process holds more than 1 MiB: {rss}"
        );
    }

    #[test]
    fn df_available_column() {
        let text = "Filesystem     1024-blocks     Used Available Capacity Mounted on\n\
                    /dev/vda         263174212 69000000  26000000      73% /\n";
        assert_eq!(parse_df_available(text), Some(26_000_000 * 1024));
        assert_eq!(parse_df_available("Filesystem\n"), None);
        assert_eq!(parse_df_available(""), None);
    }

    #[test]
    fn machine_line_names_everything() {
        let machine = Machine {
            cpu_model: "CPU X".into(),
            cores: 2,
            memory_kib: 2 * 1024 * 1024,
            kernel: "6.1.0".into(),
        };
        assert_eq!(
            machine.describe(),
            "CPU X, 2 cores, 2.0 GiB RAM, Linux 6.1.0"
        );
    }
}
