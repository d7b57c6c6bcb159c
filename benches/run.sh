#!/usr/bin/env bash
# The whole performance suite in one command: builds release, runs `geminga perf suite` (the
# scenarios of the performance issue against a broker child process; prints a markdown table
# with the machine), then the criterion benches, and appends their headline figures (median
# time and throughput) as a second table. The combined report is also written to
# $CARGO_TARGET_DIR/perf-suite-report.md (default target/).
#
# Usage: benches/run.sh [--quick] [more `geminga perf suite` flags, e.g. --data-dir /mnt/disk]
#   --quick  small scenario sizes (about a minute) and short criterion measurements
#   SKIP_CRITERION=1 benches/run.sh   runs the scenarios only
set -euo pipefail
cd "$(dirname "$0")/.."

quick=0
for arg in "$@"; do
    [ "$arg" = "--quick" ] && quick=1
done
target="${CARGO_TARGET_DIR:-target}"
report="$target/perf-suite-report.md"
mkdir -p "$target"

cargo build --release --bin geminga
"$target/release/geminga" perf suite "$@" | tee "$target/perf-suite.log"
# The suite prints progress first and the table last, from the "Machine:" line on.
sed -n '/^Machine: /,$p' "$target/perf-suite.log" > "$report"

if [ "${SKIP_CRITERION:-0}" = "1" ]; then
    echo "report: $report"
    exit 0
fi

criterion_args=()
if [ "$quick" = "1" ]; then
    criterion_args=(--warm-up-time 1 --measurement-time 3)
fi

# Prints "| bench | time | throughput |" rows from criterion's console output: the median of
# each [low median high] bracket, first result per bench id (later "change:" lines are skipped).
headlines() {
    awk '
        function median(line,   body, f) {
            body = line; sub(/^[^[]*\[/, "", body); sub(/\].*$/, "", body)
            split(body, f, " "); return f[3] " " f[4]
        }
        /^(Benchmarking|Found|Gnuplot|Warning|WARNING|Running|running|test )/ { next }
        /^[^ ]/ && $0 !~ /time:/ { pending = $1; next }
        /time:/ {
            name = ($1 == "time:") ? pending : $1
            if (name == "" || (name in seen)) { current = ""; next }
            seen[name] = 1; order[++n] = name; time[name] = median($0); current = name; next
        }
        /thrpt:/ && current != "" { thrpt[current] = median($0); current = "" }
        END {
            for (i = 1; i <= n; i++) {
                name = order[i]
                printf "| %s | %s | %s |\n", name, time[name], (name in thrpt) ? thrpt[name] : "—"
            }
        }
    '
}

# One invocation, so the dependencies are built once with one feature set.
echo "== criterion benches" >&2
cargo bench \
    -p geminga-protocol -p geminga-storage -p geminga-actors -p geminga \
    --bench codec --bench cursor --bench append --bench dispatch --bench broker \
    -- "${criterion_args[@]}" | tee "$target/criterion.log"
rows="$target/criterion-rows.md"
headlines < "$target/criterion.log" > "$rows"

{
    echo
    echo "Criterion benches (median of each run):"
    echo
    echo "| bench | time | throughput |"
    echo "|---|---|---|"
    cat "$rows"
} | tee -a "$report"
echo "report: $report"
