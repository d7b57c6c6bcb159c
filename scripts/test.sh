#!/usr/bin/env bash
# Geminga's test command: installs what the tests need, then runs formatting and lint checks,
# builds the broker, runs the Rust tests (unit + tests/it with the `pulsar` crate) and the Python
# pulsar-client suite (tests/python). Runs every step it can, prints a summary, exits non-zero
# if any step failed.
#
# Usage: scripts/test.sh            (from anywhere; works on a fresh Debian 12 with Rust + Python)
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT="$(pwd)"
VENV="$ROOT/.venv"
PY_REQUIREMENTS=("pulsar-client==3.13.*" "fastavro" "pytest" "pytest-timeout")

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

STEP_NAMES=()
STEP_RESULTS=()
FAILED=0

log() { printf '\n==> %s\n' "$*"; }

record() {
    STEP_NAMES+=("$1")
    STEP_RESULTS+=("$2")
    if [ "$2" != "ok" ]; then FAILED=1; fi
}

# run_step NAME CMD...: runs CMD, records ok/FAILED with its duration; returns CMD's status.
run_step() {
    local name="$1"
    shift
    log "$name: $*"
    local start=$SECONDS status
    "$@"
    status=$?
    if [ $status -eq 0 ]; then
        record "$name" "ok"
    else
        record "$name" "FAILED (exit $status)"
    fi
    echo "--- $name finished in $((SECONDS - start))s (exit $status)"
    return $status
}

# apt_install PKG...: installs Debian packages, running apt-get update only if the first try fails.
apt_install() {
    log "installing Debian packages: $*"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get install -y --no-install-recommends "$@" && return 0
    $SUDO apt-get update && $SUDO apt-get install -y --no-install-recommends "$@"
}

install_system_packages() {
    local missing=()
    command -v protoc >/dev/null 2>&1 || missing+=(protobuf-compiler)
    command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
    # The pulsar crate's tokio runtime links OpenSSL through native-tls.
    if ! command -v pkg-config >/dev/null 2>&1 || ! pkg-config --exists openssl; then
        missing+=(libssl-dev)
    fi
    # The Python security tests make their TLS certificates and htpasswd hashes with openssl.
    command -v openssl >/dev/null 2>&1 || missing+=(openssl)
    # The status page's end-to-end test (tests/browser) drives Debian's headless chromium.
    command -v chromium >/dev/null 2>&1 || missing+=(chromium)
    # The connector tests start their own PostgreSQL (initdb + pg_ctl from
    # /usr/lib/postgresql/*/bin) on a free loopback port; as root they run it as `nobody`.
    if ! compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; then
        missing+=(postgresql)
        # Only the binaries are needed: no system-wide cluster on the fixed port 5432.
        $SUDO mkdir -p /etc/postgresql-common/createcluster.d &&
            echo "create_main_cluster = false" |
            $SUDO tee /etc/postgresql-common/createcluster.d/geminga-tests.conf >/dev/null
    fi
    if [ ${#missing[@]} -eq 0 ]; then
        echo "system packages present (protoc, pkg-config, libssl-dev, openssl, chromium, postgresql)"
        return 0
    fi
    apt_install "${missing[@]}"
}

python_cmd() {
    if command -v python3.11 >/dev/null 2>&1; then echo python3.11; else echo python3; fi
}

venv_ready() {
    [ -x "$VENV/bin/python" ] && "$VENV/bin/python" - <<'PY' >/dev/null 2>&1
import importlib.metadata as m
assert m.version("pulsar-client").startswith("3.13.")
import pulsar, pytest, pytest_timeout  # noqa: F401
PY
}

install_python_env() {
    if venv_ready; then
        echo "reusing $VENV (pulsar-client 3.13, pytest)"
        return 0
    fi
    local py
    py="$(python_cmd)"
    if [ ! -x "$VENV/bin/python" ]; then
        if ! "$py" -m venv "$VENV"; then
            # Debian's own python needs the venv module package.
            rm -rf "$VENV"
            apt_install python3-venv && "$py" -m venv "$VENV" || return 1
        fi
    fi
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "${PY_REQUIREMENTS[@]}" &&
        venv_ready
}

target_dir() {
    cargo metadata --no-deps --format-version 1 2>/dev/null |
        "$(python_cmd)" -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])'
}

rust_tests() {
    # With chromium installed, a missing browser must fail the status page test, not skip it.
    if command -v chromium >/dev/null 2>&1; then export GEMINGA_REQUIRE_BROWSER=1; fi
    if cargo nextest --version >/dev/null 2>&1; then
        # Per-test timeouts come from .config/nextest.toml; nextest skips doctests, so run them too.
        local status=0
        cargo nextest run --workspace --no-fail-fast || status=$?
        timeout 600 cargo test --workspace --doc || status=$?
        return $status
    else
        timeout 1800 cargo test --workspace --no-fail-fast
    fi
}

python_tests() {
    local bin="$1" status
    GEMINGA_BIN="$bin" timeout 1200 "$VENV/bin/python" -m pytest tests/python
    status=$?
    if [ $status -eq 5 ]; then echo "pytest collected no tests"; fi
    return $status
}

main() {
    local started=$SECONDS
    run_step "system packages" install_system_packages
    run_step "python venv" install_python_env
    run_step "cargo fmt" cargo fmt --all -- --check
    run_step "cargo clippy" cargo clippy --workspace --all-targets -- -D warnings

    local built=0 bin
    if run_step "build broker" cargo build -p geminga --bin geminga; then built=1; fi
    bin="$(target_dir)/debug/geminga"

    run_step "rust tests" rust_tests

    if [ $built -eq 1 ] && [ -x "$bin" ] && venv_ready; then
        run_step "python tests" python_tests "$bin"
    else
        record "python tests" "SKIPPED (no broker binary or no venv)"
    fi

    printf '\n==> summary (%ss)\n' "$((SECONDS - started))"
    local i
    for i in "${!STEP_NAMES[@]}"; do
        printf '  %-16s %s\n' "${STEP_NAMES[$i]}" "${STEP_RESULTS[$i]}"
    done
    if [ $FAILED -ne 0 ]; then
        echo "test.sh: FAILED"
        return 1
    fi
    echo "test.sh: all steps ok"
}

main "$@"
