//! A PostgreSQL server of a test's own (Debian's package, `/usr/lib/postgresql/*/bin`): its
//! own folder, port and socket folder, run as the `postgres` user, stopped when dropped.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub(crate) struct PgServer {
    dir: PathBuf,
    bin: PathBuf,
    pub(crate) port: u16,
}

fn bin_dir() -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path().join("bin"))
        .filter(|p| p.join("initdb").is_file())
        .collect();
    found.sort();
    found.pop()
}

fn as_postgres(bin: &Path, tool: &str, args: &[&str]) -> std::process::Output {
    Command::new("runuser")
        .args(["-u", "postgres", "--"])
        .arg(bin.join(tool))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("running a PostgreSQL tool")
}

impl PgServer {
    /// Starts a server; panics with how to get PostgreSQL when it is not installed.
    pub(crate) fn start() -> PgServer {
        let bin = bin_dir().expect(
            "the PostgreSQL tests need Debian's postgresql (scripts/install-tools.sh tests installs it)",
        );
        // Not under a 0700 temp dir: the postgres user must enter it.
        let dir = PathBuf::from(format!("/tmp/repro-pg-{}-{}", std::process::id(), rand_suffix()));
        std::fs::create_dir_all(&dir).unwrap();
        let port = 20000 + (std::process::id() % 20000) as u16;
        let server = PgServer { dir, bin, port };
        let chown = Command::new("chown")
            .args(["postgres:postgres"])
            .arg(&server.dir)
            .status()
            .unwrap();
        assert!(chown.success());
        let data = server.dir.join("data");
        let out = as_postgres(
            &server.bin,
            "initdb",
            &[
                "-D",
                data.to_str().unwrap(),
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
            ],
        );
        assert!(
            out.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            server.port,
            server.dir.display()
        );
        let log = server.dir.join("server.log");
        let out = as_postgres(
            &server.bin,
            "pg_ctl",
            &[
                "-D",
                data.to_str().unwrap(),
                "-o",
                &opts,
                "-l",
                log.to_str().unwrap(),
                "-w",
                "start",
            ],
        );
        assert!(
            out.status.success(),
            "pg_ctl start: {}{}",
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        server
    }

    pub(crate) fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() % 1_000_000)
}

impl Drop for PgServer {
    fn drop(&mut self) {
        let data = self.dir.join("data");
        let _ = as_postgres(
            &self.bin,
            "pg_ctl",
            &["-D", data.to_str().unwrap_or(""), "-m", "immediate", "-w", "stop"],
        );
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
