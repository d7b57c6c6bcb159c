//! The suite's result rows, the markdown table they print as, and the small math behind them.

use std::time::Duration;

/// One line of the results table.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// What was measured, e.g. "publish throughput, 1 KiB batched, 1 topic".
    pub scenario: String,
    /// The target, or "(stated)" when the figure is only reported.
    pub target: String,
    /// The measured figure with its unit.
    pub measured: String,
    /// Whether the target was met; `None` when there is nothing to compare.
    pub met: Option<bool>,
}

impl Row {
    /// A row that is compared with a target.
    #[must_use]
    pub fn checked(scenario: &str, target: &str, measured: String, met: bool) -> Self {
        Row {
            scenario: scenario.to_owned(),
            target: target.to_owned(),
            measured,
            met: Some(met),
        }
    }

    /// A row that only states a figure (a reference measurement or "state the ...").
    #[must_use]
    pub fn stated(scenario: &str, measured: String) -> Self {
        Row {
            scenario: scenario.to_owned(),
            target: "(stated)".to_owned(),
            measured,
            met: None,
        }
    }

    /// The row as one markdown table line.
    #[must_use]
    pub fn to_markdown(&self) -> String {
        let met = match self.met {
            Some(true) => "yes",
            Some(false) => "**no**",
            None => "—",
        };
        format!(
            "| {} | {} | {} | {met} |",
            escape(&self.scenario),
            escape(&self.target),
            escape(&self.measured)
        )
    }
}

/// A `|` inside a cell would split it; markdown wants it escaped.
fn escape(cell: &str) -> String {
    cell.replace('|', "\\|")
}

/// The whole table: a heading line naming the machine, then the rows.
#[must_use]
pub fn markdown(machine: &str, rows: &[Row]) -> String {
    let mut out = format!("Machine: {machine}\n\n");
    out.push_str("| scenario | target | measured | met? |\n");
    out.push_str("|---|---|---|---|\n");
    for row in rows {
        out.push_str(&row.to_markdown());
        out.push('\n');
    }
    out
}

/// Nearest-rank percentile (`q` in 0..=1) of sorted samples; zero for no samples.
#[must_use]
pub fn percentile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    #[allow(
        clippy::cast_precision_loss,
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "sample counts are small and the rank is clamped below"
    )]
    let rank = (q.clamp(0.0, 1.0) * sorted.len() as f64).ceil() as usize;
    let index = rank.saturating_sub(1).min(sorted.len() - 1);
    sorted.get(index).copied().unwrap_or(Duration::ZERO)
}

/// `part / whole`, or 0 when `whole` is not positive (a failed reference measurement).
#[must_use]
pub fn ratio(part: f64, whole: f64) -> f64 {
    if whole > 0.0 && part.is_finite() {
        part / whole
    } else {
        0.0
    }
}

/// Milliseconds with three decimals, e.g. "1.234 ms".
#[must_use]
pub fn ms(duration: Duration) -> String {
    format!("{:.3} ms", duration.as_secs_f64() * 1000.0)
}

/// Bytes as MiB with one decimal, e.g. "12.5 MiB".
#[must_use]
pub fn mib(bytes: u64) -> String {
    #[allow(clippy::cast_precision_loss, reason = "display only")]
    let value = bytes as f64 / (1024.0 * 1024.0);
    format!("{value:.1} MiB")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_render_as_markdown() {
        let rows = [
            Row::checked("publish", ">= 300 MB/s", "310.0 MB/s".into(), true),
            Row::checked("e2e", ">= 250 MB/s", "10.0 MB/s".into(), false),
            Row::stated("fsync a|b", "0.5 ms".into()),
        ];
        let text = markdown("cpu X, 2 cores", &rows);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "Machine: cpu X, 2 cores");
        assert_eq!(lines[2], "| scenario | target | measured | met? |");
        assert_eq!(lines[3], "|---|---|---|---|");
        assert_eq!(lines[4], "| publish | >= 300 MB/s | 310.0 MB/s | yes |");
        assert_eq!(lines[5], "| e2e | >= 250 MB/s | 10.0 MB/s | **no** |");
        assert_eq!(lines[6], "| fsync a\\|b | (stated) | 0.5 ms | — |");
        assert_eq!(lines.len(), 7);
    }

    #[test]
    fn percentile_is_nearest_rank() {
        let samples: Vec<Duration> = (1..=1000).map(Duration::from_micros).collect();
        assert_eq!(percentile(&samples, 0.5), Duration::from_micros(500));
        assert_eq!(percentile(&samples, 0.99), Duration::from_micros(990));
        assert_eq!(percentile(&samples, 0.999), Duration::from_micros(999));
        assert_eq!(percentile(&samples, 1.0), Duration::from_micros(1000));
        assert_eq!(percentile(&samples, 0.0), Duration::from_micros(1));
        assert_eq!(percentile(&[], 0.5), Duration::ZERO);
        let one = [Duration::from_millis(7)];
        assert_eq!(percentile(&one, 0.99), Duration::from_millis(7));
    }

    #[test]
    fn ratio_guards_a_missing_reference() {
        assert!((ratio(150.0, 600.0) - 0.25).abs() < 1e-12);
        assert_eq!(ratio(1.0, 0.0), 0.0);
        assert_eq!(ratio(f64::NAN, 2.0), 0.0);
    }

    #[test]
    fn units_format() {
        assert_eq!(ms(Duration::from_micros(1234)), "1.234 ms");
        assert_eq!(mib(3 * 1024 * 1024 / 2), "1.5 MiB");
    }
}
