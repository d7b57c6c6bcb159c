//! A throwaway PostgreSQL server for the connector tests: `initdb` into a temporary directory
//! and `pg_ctl start` on loopback on a port picked here. PostgreSQL refuses to run as root, so
//! under root (as in CI containers) both run as `nobody` through `runuser`.
//!
//! The binaries are found under `/usr/lib/postgresql/*/bin` (Debian's `postgresql` package,
//! which `scripts/test.sh` installs), or in `GEMINGA_PG_BIN`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use tempfile::TempDir;

/// A running server; stopped (immediately) on drop.
pub struct PgServer {
    _dir: TempDir,
    data: PathBuf,
    bin: PathBuf,
    run_as: Option<String>,
    /// Its TCP port on 127.0.0.1.
    pub port: u16,
}

/// The directory holding `initdb` and `pg_ctl`, the newest version first.
fn bin_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("GEMINGA_PG_BIN") {
        return PathBuf::from(dir);
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.path().join("bin"))
                .filter(|bin| bin.join("initdb").exists() && bin.join("pg_ctl").exists())
                .collect()
        })
        .unwrap_or_default();
    found.sort_by_key(|p| {
        p.parent()
            .and_then(Path::file_name)
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
    });
    found.pop().unwrap_or_else(|| {
        panic!(
            "PostgreSQL is not installed: no /usr/lib/postgresql/*/bin/initdb \
             (scripts/test.sh installs the `postgresql` package; or set GEMINGA_PG_BIN)"
        )
    })
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn id_of(user: &str, flag: &str) -> u32 {
    let out = Command::new("id")
        .args([flag, user])
        .output()
        .expect("run id");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("no user {user}"))
}

/// A port free on loopback right now.
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a port");
    listener.local_addr().expect("local addr").port()
}

impl PgServer {
    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        let mut command = match &self.run_as {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(path);
                c
            }
            None => Command::new(path),
        };
        command.env("LC_ALL", "C");
        command
    }

    fn run(&self, program: &str, args: &[&str]) -> Output {
        self.command(program)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("run {program}: {e}"))
    }

    /// Initializes and starts a server (trust authentication, user `postgres`).
    pub fn start() -> PgServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let run_as = is_root().then(|| "nobody".to_owned());
        let home = dir.path().join("pg");
        std::fs::create_dir(&home).expect("pg dir");
        if let Some(user) = &run_as {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
                .expect("open the temp dir to the server's user");
            let (uid, gid) = (id_of(user, "-u"), id_of(user, "-g"));
            std::os::unix::fs::chown(&home, Some(uid), Some(gid)).expect("chown pg dir");
        }
        let mut server = PgServer {
            data: home.join("data"),
            bin: bin_dir(),
            run_as,
            port: 0,
            _dir: dir,
        };
        let data = server.data.to_string_lossy().into_owned();
        let init = server.run(
            "initdb",
            &[
                "-D",
                &data,
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
                "-E",
                "UTF8",
            ],
        );
        assert!(
            init.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&init.stderr)
        );
        let log = home.join("log").to_string_lossy().into_owned();
        let socket_dir = home.to_string_lossy().into_owned();
        for _ in 0..3 {
            let port = free_port();
            let options = format!("-p {port} -h 127.0.0.1 -k {socket_dir} -F");
            let started = server.run(
                "pg_ctl",
                &[
                    "-D", &data, "-l", &log, "-w", "-t", "60", "-o", &options, "start",
                ],
            );
            if started.status.success() {
                server.port = port;
                return server;
            }
        }
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        panic!("pg_ctl start failed three times; log:\n{text}");
    }

    /// A tokio-postgres connection string for database `postgres`.
    pub fn url(&self) -> String {
        format!(
            "host=127.0.0.1 port={} user=postgres dbname=postgres",
            self.port
        )
    }

    /// A client (its connection runs on the current tokio runtime).
    pub async fn client(&self) -> tokio_postgres::Client {
        let (client, connection) = tokio_postgres::connect(&self.url(), tokio_postgres::NoTls)
            .await
            .unwrap_or_else(|e| panic!("connect to PostgreSQL on {}: {e}", self.port));
        tokio::spawn(connection);
        client
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        if self.port != 0 {
            let data = self.data.to_string_lossy().into_owned();
            let _ = self.run("pg_ctl", &["-D", &data, "-m", "immediate", "-w", "stop"]);
        }
    }
}
