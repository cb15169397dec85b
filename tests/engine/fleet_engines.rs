//! How a fleet meets its engines: one stopped in the middle of a run (the run is lost, not the
//! batch), one reached over `tcp://` with TLS, and builder images that reach an engine by digest
//! through a local registry.

use crate::common;
use crate::fleet::{SecondEngine, expected, fleet_containers, fleet_run, project, status};

use std::process::Stdio;
use std::time::{Duration, Instant};

#[test]
fn an_engine_stopped_mid_run_loses_that_run_not_the_batch() {
    if common::skip_engine_test() {
        return;
    }
    let mut second = SecondEngine::start();
    let work = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", work.path().join("fleet.sqlite").display());
    let machine = repro::engine::DEFAULT_DOCKER_HOST.to_string();
    let engines = vec![machine.clone(), second.url()];
    let names = ["c-make-ok", "shell-tar-ok"];
    let jobs: Vec<String> = names.iter().map(|p| project(p)).collect();
    let child = fleet_run(&db, &engines, &jobs)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    // Stop the second engine as soon as a run of ours is on it.
    let started = Instant::now();
    while fleet_containers(&second.url()) == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "no run reached the second engine"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    second.stop();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    // Both jobs are reproducible: the batch went on, on the engine left.
    assert_eq!(out.status.code(), Some(0), "{err}");

    let after = status(&db);
    assert_eq!(after.len(), names.len());
    let mut lost = Vec::new();
    for (name, job) in names.iter().zip(&after) {
        assert_eq!(job["state"], expected(name), "{name}: {job:#}");
        assert_eq!(job["attempts"], 1, "{name} was not put back: {job:#}");
        for run in job["runs"].as_array().unwrap() {
            // Every run ended on the machine's engine or before the second one went away.
            if let Some(l) = run["lost"].as_array() {
                lost.extend(l.iter().map(|l| l.as_str().unwrap().to_string()));
                assert_eq!(run["engine"]["url"], machine.as_str(), "{run:#}");
            }
        }
    }
    assert!(
        !lost.is_empty() && lost.iter().all(|l| l.starts_with(&second.url())),
        "the lost run is recorded with its engine: {lost:?}\n{err}"
    );
    assert_eq!(fleet_containers(&machine), 0, "containers of ours left");
    drop(second);
}

/// A local registry (Debian's `docker-registry`) on a port of its own, its storage in a temporary
/// folder; stopped by pid when dropped.
struct Registry {
    dir: tempfile::TempDir,
    address: String,
    child: Option<std::process::Child>,
}

impl Registry {
    fn start() -> Registry {
        let dir = tempfile::Builder::new()
            .prefix("repro-registry-")
            .tempdir()
            .unwrap();
        let address = format!("127.0.0.1:{}", free_port());
        let config = dir.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: {address}\n",
                dir.path().join("data").display()
            ),
        )
        .unwrap();
        let child = std::process::Command::new("docker-registry")
            .arg("serve")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("registry.log")).unwrap())
            .spawn()
            .expect("starting docker-registry (scripts/install-tools.sh tests installs it)");
        let registry = Registry {
            dir,
            address,
            child: Some(child),
        };
        let started = Instant::now();
        while std::net::TcpStream::connect(&registry.address).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "the registry did not start: {}",
                std::fs::read_to_string(registry.dir.path().join("registry.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        registry
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `openssl` with `args` in `dir`, which must succeed.
fn openssl(dir: &std::path::Path, args: &[&str]) {
    let out = std::process::Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("running openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA, a server certificate for 127.0.0.1 and a client certificate, made with the openssl CLI:
/// the server's files in `dir`, the client's as `ca.pem`, `cert.pem`, `key.pem` in `dir/client`.
fn make_certificates(dir: &std::path::Path) {
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut ca = vec!["req", "-x509", "-days", "2", "-subj", "/CN=repro test CA"];
    ca.extend(ec);
    ca.extend(["-keyout", "ca-key.pem", "-out", "ca.pem"]);
    openssl(dir, &ca);
    for (who, usage) in [
        (
            "server",
            "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
        ),
        ("client", "extendedKeyUsage=clientAuth\n"),
    ] {
        std::fs::write(dir.join(format!("{who}.ext")), usage).unwrap();
        let mut req = vec!["req", "-subj"];
        let subject = format!("/CN=repro test {who}");
        req.push(&subject);
        req.extend(ec);
        let (key, csr, cert, ext) = (
            format!("{who}-key.pem"),
            format!("{who}.csr"),
            format!("{who}-cert.pem"),
            format!("{who}.ext"),
        );
        req.extend(["-keyout", &key, "-out", &csr]);
        openssl(dir, &req);
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-days",
                "2",
                "-in",
                &csr,
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca-key.pem",
                "-CAcreateserial",
                "-extfile",
                &ext,
                "-out",
                &cert,
            ],
        );
    }
    let client = dir.join("client");
    std::fs::create_dir(&client).unwrap();
    std::fs::copy(dir.join("ca.pem"), client.join("ca.pem")).unwrap();
    std::fs::copy(dir.join("client-cert.pem"), client.join("cert.pem")).unwrap();
    std::fs::copy(dir.join("client-key.pem"), client.join("key.pem")).unwrap();
}

/// A cache of our own holding the machine cache's image records (the tarballs hard-linked):
/// `repro image push` records the registry's digest there, not in the shared cache.
fn private_cache(to: &std::path::Path) {
    let from = repro::image::Cache::from_env().unwrap().root().join("images");
    for sub in ["meta", "recipes", "rootfs"] {
        let dst = to.join("images").join(sub);
        std::fs::create_dir_all(&dst).unwrap();
        for entry in std::fs::read_dir(from.join(sub)).unwrap() {
            let entry = entry.unwrap();
            let target = dst.join(entry.file_name());
            if sub == "rootfs" {
                std::fs::hard_link(entry.path(), &target)
                    .or_else(|_| std::os::unix::fs::symlink(entry.path(), &target))
                    .unwrap();
            } else {
                std::fs::copy(entry.path(), &target).unwrap();
            }
        }
    }
}

#[test]
fn an_engine_over_tls_pulls_the_builder_image_by_digest_from_a_registry() {
    if common::skip_engine_test() {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let certs = work.path().join("certs");
    std::fs::create_dir(&certs).unwrap();
    make_certificates(&certs);
    let cache = work.path().join("cache");
    private_cache(&cache);
    let registry = Registry::start();

    // Push the default builder image from the machine's engine.
    let out = common::repro()
        .args(["image", "push", &registry.address, "default"])
        .env("REPRO_CACHE_DIR", &cache)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let prefix = format!("{}/repro/default@sha256:", registry.address);
    assert!(stdout.starts_with(&prefix), "{stdout}");

    // A second engine that only answers over TCP with TLS (client certificates required).
    let port = free_port();
    let tcp = format!("tcp://127.0.0.1:{port}");
    let path = |f: &str| certs.join(f).display().to_string();
    let second = SecondEngine::start_with(&[
        "-H".into(),
        tcp.clone(),
        "--tlsverify".into(),
        "--tlscacert".into(),
        path("ca.pem"),
        "--tlscert".into(),
        path("server-cert.pem"),
        "--tlskey".into(),
        path("server-key.pem"),
    ]);
    let engines_file = work.path().join("engines.toml");
    std::fs::write(
        &engines_file,
        format!(
            "[[engine]]\nurl = \"{tcp}\"\ntls = \"{}\"\n",
            certs.join("client").display()
        ),
    )
    .unwrap();
    let db = format!("sqlite://{}", work.path().join("fleet.sqlite").display());
    let out = common::repro()
        .args([
            "fleet",
            "run",
            "--db",
            &db,
            "--no-isolate",
            "--registry",
            &registry.address,
        ])
        .arg("--engines-file")
        .arg(&engines_file)
        .arg(project("c-make-ok"))
        .env("REPRO_CACHE_DIR", &cache)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let job = &status(&db)[0];
    assert_eq!(job["state"], "reproducible", "{job:#}");
    for run in job["runs"].as_array().unwrap() {
        assert_eq!(run["engine"]["url"], tcp.as_str(), "{run:#}");
    }

    // The engine got the image from the registry, by the digest the push printed.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let digests = rt.block_on(async {
        let address = repro::engine::EngineAddress {
            url: tcp.clone(),
            tls: Some(certs.join("client")),
        };
        let engine = repro::engine::Engine::connect_to(&address).await.unwrap();
        let images = engine
            .docker()
            .list_images(None::<bollard::query_parameters::ListImagesOptions>)
            .await
            .unwrap();
        images
            .into_iter()
            .flat_map(|i| i.repo_digests)
            .collect::<Vec<_>>()
    });
    assert!(digests.contains(&stdout), "{digests:?} lacks {stdout}");
    // Without TLS client certificates the engine refuses.
    let plain = rt.block_on(repro::engine::Engine::connect_to(&repro::engine::EngineAddress {
        url: tcp.clone(),
        tls: None,
    }));
    assert!(plain.is_err(), "the engine answered without TLS");
    drop(second);
}

/// An engine of "another machine" (a second engine reached at a non-loopback address, so repro
/// cannot assume it sees this host's files): a crate whose dependencies are in the store builds
/// there, the store entry uploaded into each container instead of bind-mounted.
#[test]
fn dependencies_from_the_store_reach_an_engine_on_another_machine() {
    if common::skip_engine_test() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let proj = crate::dependencies::crate_repository(d.path());
    let store = d.path().join("store");
    // The fetch runs here, on the machine's engine (it needs the registry and a writable folder).
    let local = crate::dependencies::json_check_env(&proj, &store, &[]);
    assert_eq!(local["dependency_phase"]["ecosystems"][0]["source"], "fetched");
    // The second engine listens on its bridge's address, not a loopback one.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = std::cell::RefCell::new(String::new());
    let engine = SecondEngine::start_on_bridge(|address| {
        url.replace(format!("tcp://{address}:{port}"));
        vec!["-H".to_string(), url.borrow().clone()]
    });
    let url = url.into_inner();
    let remote = crate::dependencies::json_check_env(&proj, &store, &[("DOCKER_HOST", url.as_str())]);
    assert_eq!(remote["verdict"], "reproducible", "{remote:#}");
    assert_eq!(remote["dependency_phase"]["ecosystems"][0]["source"], "store");
    assert_eq!(remote["dependencies"], local["dependencies"]);
    for run in remote["runs"].as_array().unwrap() {
        assert_eq!(run["spec"]["network"], false);
        // Nothing of this host was mounted into the container.
        assert!(!run.to_string().contains(&store.display().to_string()), "{run:#}");
    }
    drop(engine);
}
