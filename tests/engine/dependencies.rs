//! The dependency phase end to end: a crate with a crates.io dependency and no Cargo.lock is
//! fetched once (the lockfile resolved and recorded), built offline, found in the store by a
//! second check, recorded by `repro build`, and a rebuild from provenance whose digest was
//! changed is refused, naming the dependency.

use crate::common;

use std::path::Path;

use base64::Engine as _;
use common::run;
use serde_json::Value;

const ITOA_SHA256: &str = "49f1f14873335454500d59611f1cf4a4b0f786f9ac11f4312a78e4cf2566695b";

/// A git repository with a one-dependency binary crate in `proj/`, without a Cargo.lock.
pub(crate) fn crate_repository(dir: &Path) -> std::path::PathBuf {
    let proj = dir.join("repo/proj");
    std::fs::create_dir_all(proj.join("src")).unwrap();
    std::fs::write(
        proj.join("Cargo.toml"),
        "[package]\nname = \"dep-user\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n\
         [dependencies]\nitoa = \"=1.0.11\"\n",
    )
    .unwrap();
    std::fs::write(
        proj.join("src/main.rs"),
        "fn main() {\n    println!(\"{}\", itoa::Buffer::new().format(42));\n}\n",
    )
    .unwrap();
    common::git_init_commit(&dir.join("repo"));
    proj
}

/// [`json_check`] with variables in repro's environment (registries the test serves).
pub(crate) fn json_check_env(proj: &Path, store: &Path, env: &[(&str, &str)]) -> Value {
    let out = common::repro()
        .envs(env.iter().copied())
        .args(["check", &proj.display().to_string(), "--no-isolate"])
        .args(["--vary", "build-path,time", "--deps-store"])
        .arg(store)
        .args(["--json", "-"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    common::assert_valid("check-report.v2.json", &report);
    report
}

fn json_check(proj: &Path, store: &Path) -> Value {
    let (code, stdout, err) = run(&[
        "check",
        &proj.display().to_string(),
        "--no-isolate",
        "--vary",
        "build-path,time",
        "--deps-store",
        &store.display().to_string(),
        "--json",
        "-",
    ]);
    assert_eq!(code, 0, "{stdout}{err}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    common::assert_valid("check-report.v2.json", &report);
    report
}

#[test]
fn a_crate_is_fetched_once_built_offline_recorded_and_a_changed_digest_is_refused() {
    if common::skip_engine_test() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let proj = crate_repository(d.path());
    let store = d.path().join("store");

    let first = json_check(&proj, &store);
    let deps = first["dependencies"].as_array().unwrap();
    let itoa = deps
        .iter()
        .find(|d| d["uri"] == "pkg:cargo/itoa@1.0.11")
        .unwrap_or_else(|| panic!("{deps:?}"));
    assert_eq!(itoa["digest"]["sha256"], ITOA_SHA256);
    let cargo = &first["dependency_phase"]["ecosystems"][0];
    assert_eq!(cargo["source"], "fetched", "{cargo}");
    let lock = cargo["generated_lockfile"]["content"].as_str().unwrap();
    assert!(
        lock.contains("name = \"itoa\"") && lock.contains(ITOA_SHA256),
        "{lock}"
    );
    // Every run got the entry read-only and ran with the network off.
    for run in first["runs"].as_array().unwrap() {
        assert_eq!(run["spec"]["network"], false);
        let command: Vec<&str> = run["spec"]["command"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert!(
            command.contains(&"--offline") && command.contains(&"--locked"),
            "{command:?}"
        );
    }

    // A second check finds the entry: nothing is fetched.
    let second = json_check(&proj, &store);
    let cargo = &second["dependency_phase"]["ecosystems"][0];
    assert_eq!(cargo["source"], "store", "{cargo}");
    assert_eq!(second["dependencies"], first["dependencies"]);

    // repro build records them, and the generated lockfile.
    let key_prefix = d.path().join("k").display().to_string();
    let (code, _, err) = run(&["keygen", "--out", &key_prefix]);
    assert_eq!(code, 0, "{err}");
    let prov = d.path().join("prov.json");
    let (code, stdout, err) = run(&[
        "build",
        &proj.display().to_string(),
        "--key",
        &format!("{key_prefix}.key.pem"),
        "-o",
        &prov.display().to_string(),
        "--deps-store",
        &store.display().to_string(),
    ]);
    assert_eq!(code, 0, "{stdout}{err}");
    let envelope: Value = serde_json::from_slice(&std::fs::read(&prov).unwrap()).unwrap();
    let payload = base64::engine::general_purpose::STANDARD
        .decode(envelope["payload"].as_str().unwrap())
        .unwrap();
    let statement: Value = serde_json::from_slice(&payload).unwrap();
    let definition = &statement["predicate"]["buildDefinition"];
    let resolved = definition["resolvedDependencies"].as_array().unwrap();
    assert!(
        resolved.iter().any(|r| r["uri"] == "pkg:cargo/itoa@1.0.11"
            && r["name"] == "itoa"
            && r["digest"]["sha256"] == ITOA_SHA256),
        "{resolved:?}"
    );
    assert_eq!(
        definition["externalParameters"]["generatedLockfiles"][0]["content"],
        lock
    );

    // A rebuild fetches exactly what was recorded (with the recorded lockfile) and matches.
    let rebuild = |provenance: &Path| {
        run(&[
            "rebuild",
            &provenance.display().to_string(),
            "--source",
            &proj.display().to_string(),
            "--deps-store",
            &store.display().to_string(),
            "--isolate-budget",
            "0",
            "--json",
            "-",
        ])
    };
    let (code, stdout, err) = rebuild(&prov);
    assert_eq!(code, 0, "{stdout}{err}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    common::assert_valid("rebuild-report.v2.json", &report);
    assert_eq!(report["recorded"]["generated_lockfile"], lock);
    assert_eq!(report["check"]["dependencies"], first["dependencies"]);

    // A rebuild from provenance whose digest was changed fetches, compares and refuses.
    let changed = "0".repeat(64);
    let tampered = payload_with(&statement, ITOA_SHA256, &changed);
    let tampered_path = d.path().join("tampered.json");
    std::fs::write(&tampered_path, tampered).unwrap();
    let (code, stdout, err) = rebuild(&tampered_path);
    assert_eq!(code, 2, "{stdout}{err}");
    assert!(
        err.contains("itoa@1.0.11") && err.contains(&changed) && err.contains(ITOA_SHA256),
        "{err}"
    );

    // A Cargo.lock the project's git ignores is not part of what is built, so the dependency
    // phase does not read it either: this stale one (another version, a made-up checksum) would
    // fail the fetch if it were read. The lockfile is resolved (found in the store) as above.
    std::fs::write(proj.join(".gitignore"), "/target\n/Cargo.lock\n").unwrap();
    std::fs::write(
        proj.join("Cargo.lock"),
        format!(
            "version = 3\n\n[[package]]\nname = \"itoa\"\nversion = \"1.0.10\"\nsource = \
             \"registry+https://github.com/rust-lang/crates.io-index\"\nchecksum = \"{changed}\"\n"
        ),
    )
    .unwrap();
    common::sh(
        &proj,
        "git add .gitignore && GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@example.org \
         GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@example.org git commit -qm ignore",
    );
    let ignored = json_check(&proj, &store);
    let cargo = &ignored["dependency_phase"]["ecosystems"][0];
    assert_eq!(cargo["source"], "store", "{cargo}");
    assert_eq!(cargo["generated_lockfile"]["content"], lock);
    assert_eq!(ignored["dependencies"], first["dependencies"]);
}

/// The statement as JSON with one resolved dependency's digest replaced (a bare statement:
/// rebuild reads it unsigned unless --provenance-key is given).
fn payload_with(statement: &Value, from: &str, to: &str) -> String {
    let mut statement = statement.clone();
    let resolved = statement["predicate"]["buildDefinition"]["resolvedDependencies"]
        .as_array_mut()
        .unwrap();
    for entry in resolved {
        if entry["digest"]["sha256"] == from {
            entry["digest"]["sha256"] = Value::from(to);
        }
    }
    statement.to_string()
}

/// A folder served over HTTP on the engine's bridge for the length of a test, where containers
/// on the default network reach the host: the Go module proxy and the npm registry are not
/// reachable from these machines, so tests serve their own. Stopped on drop, panics included.
struct BridgeServer {
    server: std::process::Child,
    url: String,
}

impl BridgeServer {
    fn serve(dir: &Path) -> BridgeServer {
        // The engine's bridge gateway is the host as containers on the default network see it;
        // engines that do not report it use the subnet's first address.
        let out = std::process::Command::new("docker")
            .args([
                "network",
                "inspect",
                "bridge",
                "-f",
                "{{range .IPAM.Config}}{{.Gateway}} {{.Subnet}}{{end}}",
            ])
            .output()
            .unwrap();
        let config = String::from_utf8(out.stdout).unwrap();
        let gateway = match config.split_whitespace().collect::<Vec<_>>().as_slice() {
            [gateway, _subnet] => (*gateway).to_owned(),
            [subnet] => {
                let net: std::net::Ipv4Addr = subnet.split('/').next().unwrap().parse().unwrap();
                std::net::Ipv4Addr::from(u32::from(net) + 1).to_string()
            }
            _ => panic!("no address for the engine's bridge: {config:?}"),
        };
        let port = std::net::TcpListener::bind((gateway.as_str(), 0))
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let server = std::process::Command::new("python3")
            .args(["-m", "http.server", "--bind", &gateway, &port.to_string()])
            .current_dir(dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        for _ in 0..100 {
            if std::net::TcpStream::connect((gateway.as_str(), port)).is_ok() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        BridgeServer {
            server,
            url: format!("http://{gateway}:{port}"),
        }
    }
}

impl Drop for BridgeServer {
    fn drop(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
    }
}

/// A Go module proxy tree serving `example.org/greet v1.0.0` (go.mod and greet.go as in
/// `deps::go`'s unit test, whose `h1:` hashes Go itself computed).
fn go_proxy_tree(dir: &Path) {
    use std::io::Write as _;
    let files = [
        ("go.mod", GREET_GO_MOD),
        (
            "greet.go",
            "package greet\n\nfunc Hello() string { return \"hello\" }\n",
        ),
    ];
    let v = dir.join("example.org/greet/@v");
    std::fs::create_dir_all(&v).unwrap();
    std::fs::write(v.join("list"), "v1.0.0\n").unwrap();
    std::fs::write(
        v.join("v1.0.0.info"),
        r#"{"Version":"v1.0.0","Time":"2024-01-01T00:00:00Z"}"#,
    )
    .unwrap();
    std::fs::write(v.join("v1.0.0.mod"), GREET_GO_MOD).unwrap();
    let mut zip = zip::ZipWriter::new(std::fs::File::create(v.join("v1.0.0.zip")).unwrap());
    for (name, content) in files {
        zip.start_file(
            format!("example.org/greet@v1.0.0/{name}"),
            zip::write::SimpleFileOptions::default(),
        )
        .unwrap();
        zip.write_all(content.as_bytes()).unwrap();
    }
    zip.finish().unwrap();
}

const GREET_GO_MOD: &str = "module example.org/greet\n\ngo 1.21\n";

#[test]
fn a_go_module_is_fetched_checked_against_go_sum_and_built_offline() {
    if common::skip_engine_test() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let tree = d.path().join("proxy");
    go_proxy_tree(&tree);
    let proxy = BridgeServer::serve(&tree);
    let proj = d.path().join("hello");
    std::fs::create_dir_all(&proj).unwrap();
    std::fs::write(
        proj.join("go.mod"),
        "module example.org/hello\n\ngo 1.21\n\nrequire example.org/greet v1.0.0\n",
    )
    .unwrap();
    std::fs::write(
        proj.join("go.sum"),
        "example.org/greet v1.0.0 h1:3f9Ipi41slKLY2VsLI+eSRCclFU+AQoIo8JXByvf+n8=\n\
         example.org/greet v1.0.0/go.mod h1:BZd+xb2rt/BaLCv17W4QQ35BDRwGHqQYJ1/FakMcFyE=\n",
    )
    .unwrap();
    std::fs::write(
        proj.join("main.go"),
        "package main\n\nimport (\n\t\"fmt\"\n\n\t\"example.org/greet\"\n)\n\n\
         func main() { fmt.Println(greet.Hello()) }\n",
    )
    .unwrap();
    common::git_init_commit(&proj);
    let store = d.path().join("store");
    let url = proxy.url.clone();
    let check = || json_check_env(&proj, &store, &[("GOPROXY", &url)]);
    let first = check();
    let go = &first["dependency_phase"]["ecosystems"][0];
    assert_eq!(
        (&go["ecosystem"], &go["source"]),
        (&"go".into(), &"fetched".into()),
        "{go}"
    );
    let deps = first["dependencies"].as_array().unwrap();
    let greet = deps
        .iter()
        .find(|d| d["uri"] == "pkg:golang/example.org/greet@v1.0.0")
        .unwrap_or_else(|| panic!("{deps:?}"));
    assert_eq!(greet["digest"]["sha256"].as_str().map(str::len), Some(64));
    for run in first["runs"].as_array().unwrap() {
        assert_eq!(run["spec"]["network"], false);
    }

    // With the proxy gone, the store serves the second check.
    drop(proxy);
    let second = check();
    assert_eq!(second["dependency_phase"]["ecosystems"][0]["source"], "store");
    assert_eq!(second["dependencies"], first["dependencies"]);
}

/// An npm package tarball as registries serve it: `package/…` members, gzip.
fn npm_tarball(files: &[(&str, &str)]) -> Vec<u8> {
    let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::default(),
    ));
    for (name, content) in files {
        let mut header = tar::Header::new_ustar();
        header.set_size(content.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(499_162_500);
        header.set_cksum();
        tar.append_data(&mut header, format!("package/{name}"), content.as_bytes())
            .unwrap();
    }
    tar.into_inner().unwrap().finish().unwrap()
}

#[test]
fn an_npm_package_is_fetched_checked_against_its_integrity_and_built_offline() {
    use sha2::Digest as _;
    if common::skip_engine_test() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let registry = d.path().join("registry");
    std::fs::create_dir_all(&registry).unwrap();
    let tarball = npm_tarball(&[
        (
            "package.json",
            r#"{"name":"greet","version":"1.0.0","main":"index.js"}"#,
        ),
        ("index.js", "module.exports = () => \"hello\";\n"),
    ]);
    std::fs::write(registry.join("greet-1.0.0.tgz"), &tarball).unwrap();
    let integrity = format!(
        "sha512-{}",
        base64::engine::general_purpose::STANDARD.encode(sha2::Sha512::digest(&tarball))
    );
    let server = BridgeServer::serve(&registry);

    let proj = d.path().join("app");
    std::fs::create_dir_all(proj.join("src")).unwrap();
    std::fs::write(
        proj.join("package.json"),
        r#"{"name":"app","version":"0.1.0","files":["lib"],"dependencies":{"greet":"1.0.0"},
"scripts":{"build":"node src/build.js"}}
"#,
    )
    .unwrap();
    std::fs::write(
        proj.join("src/build.js"),
        "const fs = require('fs');\nfs.mkdirSync('lib', { recursive: true });\n\
         fs.writeFileSync('lib/greeting.txt', require('greet')() + '\\n');\n",
    )
    .unwrap();
    std::fs::write(
        proj.join("package-lock.json"),
        format!(
            r#"{{"name":"app","version":"0.1.0","lockfileVersion":3,"requires":true,"packages":{{
"":{{"name":"app","version":"0.1.0","dependencies":{{"greet":"1.0.0"}}}},
"node_modules/greet":{{"version":"1.0.0","resolved":"{}/greet-1.0.0.tgz","integrity":"{integrity}"}}}}}}
"#,
            server.url
        ),
    )
    .unwrap();
    std::fs::write(proj.join(".gitignore"), "node_modules/\nout/\nlib/\n").unwrap();
    common::git_init_commit(&proj);
    let store = d.path().join("store");

    let first = json_check(&proj, &store);
    let npm = &first["dependency_phase"]["ecosystems"][0];
    assert_eq!(
        (&npm["ecosystem"], &npm["source"]),
        (&"npm".into(), &"fetched".into()),
        "{npm}"
    );
    let deps = first["dependencies"].as_array().unwrap();
    assert_eq!(deps.len(), 1, "{deps:?}");
    let greet = deps.first().unwrap();
    assert_eq!(greet["uri"], "pkg:npm/greet@1.0.0");
    assert_eq!(
        greet["digest"]["sha256"],
        hex::encode(sha2::Sha256::digest(&tarball))
    );
    for run in first["runs"].as_array().unwrap() {
        assert_eq!(run["spec"]["network"], false);
    }
    let outputs = first.to_string();
    assert!(outputs.contains("app-0.1.0.tgz"), "{outputs}");

    // With the registry gone, the store serves the second check.
    drop(server);
    let second = json_check(&proj, &store);
    assert_eq!(second["dependency_phase"]["ecosystems"][0]["source"], "store");
    assert_eq!(second["dependencies"], first["dependencies"]);
}
