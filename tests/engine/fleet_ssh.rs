//! A fleet engine reached over `ssh://` (bollard's SSH transport: the system `ssh` client, and
//! `docker system dial-stdio` on the far side), against an `sshd` (Debian's `openssh-server`) this
//! test starts on a port of its own. The coordinator finds an `ssh` first on its PATH that is the
//! system client with the test's config file (`-F`; ssh reads its default config from the passwd
//! home, not `$HOME`), so the machine's ssh configuration and known hosts are never read or
//! touched, and nothing is asked of the machine (no `~/.ssh` folder, no mount namespace).

use crate::common;
use crate::fleet::{fleet_containers, project, status};

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// An sshd on 127.0.0.1:`port` that lets in the test's key only; stopped by pid when dropped.
struct Sshd {
    child: Child,
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn keygen(path: &Path) {
    let out = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(path)
        .output()
        .expect("running ssh-keygen");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

fn start_sshd(dir: &Path, port: u16) -> Sshd {
    keygen(&dir.join("host_key"));
    keygen(&dir.join("client_key"));
    std::fs::copy(dir.join("client_key.pub"), dir.join("authorized_keys")).unwrap();
    let config = dir.join("sshd_config");
    std::fs::write(
        &config,
        format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host_key\nAuthorizedKeysFile {d}/authorized_keys\n\
             StrictModes no\nPermitRootLogin prohibit-password\nPasswordAuthentication no\nUsePAM no\n\
             PidFile {d}/sshd.pid\n",
            d = dir.display()
        ),
    )
    .unwrap();
    // sshd's privilege separation folder (Debian's service makes it on start).
    std::fs::create_dir_all("/run/sshd").unwrap();
    let child = Command::new("/usr/sbin/sshd")
        .arg("-D")
        .arg("-e")
        .arg("-f")
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("sshd.log")).unwrap())
        .spawn()
        .expect("starting sshd (scripts/install-tools.sh tests installs openssh-server)");
    let sshd = Sshd { child };
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "sshd did not start: {}",
            std::fs::read_to_string(dir.join("sshd.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    sshd
}

#[test]
fn a_job_runs_on_an_engine_reached_over_ssh() {
    if common::skip_engine_test() {
        return;
    }
    if !Path::new("/usr/sbin/sshd").exists() {
        panic!("sshd is missing: scripts/install-tools.sh tests installs openssh-server");
    }
    let work = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let _sshd = start_sshd(work.path(), port);
    // The ssh client the coordinator runs: the system one with the test's configuration.
    let bin = work.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let ssh_config = work.path().join("ssh_config");
    let wrapper = bin.join("ssh");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\nexec /usr/bin/ssh -F {} \"$@\"\n",
            ssh_config.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&wrapper, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    std::fs::write(
        &ssh_config,
        format!(
            "Host repro-fleet-test\n  HostName 127.0.0.1\n  Port {port}\n  User root\n  IdentityFile {d}/client_key\n  \
             IdentitiesOnly yes\n  UserKnownHostsFile {d}/known_hosts\n",
            d = work.path().display()
        ),
    )
    .unwrap();
    let db = format!("sqlite://{}", work.path().join("fleet.sqlite").display());
    let url = "ssh://repro-fleet-test";
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let out = Command::new(env!("CARGO_BIN_EXE_repro"))
        .args(["fleet", "run", "--db", &db, "--no-isolate", "--engine", url])
        .env("PATH", path)
        .arg(project("c-make-ok"))
        // Where the ssh client's control sockets go (openssh's state folder).
        .env("XDG_STATE_HOME", work.path().join("state"))
        .env("NO_COLOR", "1")
        .current_dir(work.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{err}\nsshd: {}",
        std::fs::read_to_string(work.path().join("sshd.log")).unwrap_or_default()
    );
    assert!(err.contains("repro: engine ssh://repro-fleet-test (ID "), "{err}");
    let job = &status(&db)[0];
    assert_eq!(job["state"], "reproducible", "{job:#}");
    for run in job["runs"].as_array().unwrap() {
        assert_eq!(run["engine"]["url"], url, "{run:#}");
    }
    assert_eq!(fleet_containers(repro::engine::DEFAULT_DOCKER_HOST), 0);
}
