//! Helpers shared by the integration tests: running the real binary, making fixtures with real
//! tools, validating reports against the published schema.
#![allow(dead_code)]
// Test helpers report skips and provisioning on stderr.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub(crate) mod postgres;

pub(crate) fn repro() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_repro"));
    c.env("NO_COLOR", "1");
    c
}

/// Runs `repro ARGS`, returning (exit code, stdout, stderr).
pub(crate) fn run(args: &[&str]) -> (i32, String, String) {
    let out: Output = repro().args(args).output().expect("running the repro binary");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Makes `dir` a git repository (branch `main`) with everything in it committed once, at a fixed
/// time (so `SOURCE_DATE_EPOCH` is 1700000000).
pub(crate) fn git_init_commit(dir: &Path) {
    sh(
        dir,
        "git init -q -b main . && git add -A && GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@example.org \
         GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@example.org GIT_AUTHOR_DATE=@1700000000 \
         GIT_COMMITTER_DATE=@1700000000 git commit -qm import",
    );
}

/// Runs a shell command line in `dir`, panicking with its output on failure.
pub(crate) fn sh(dir: &Path, script: &str) {
    let out = Command::new("sh")
        .arg("-ec")
        .arg(script)
        .current_dir(dir)
        .output()
        .expect("running sh");
    assert!(
        out.status.success(),
        "`{script}` failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

pub(crate) fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Validates a JSON report against a schema under `docs/schema/`, panicking with every error.
pub(crate) fn assert_valid(schema_file: &str, report: &serde_json::Value) {
    let schema_path = repo_root().join("docs/schema").join(schema_file);
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&schema_path).expect("reading the schema"))
            .expect("schema is JSON");
    // Schemas refer to each other by $id: serve them from docs/schema/, never the network.
    let options = jsonschema::options().with_retriever(LocalSchemas);
    let validator = options.build(&schema).expect("schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(report)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "report does not match {schema_file}:\n{}",
        errors.join("\n")
    );
}

/// Collects the names of every node of a report's difference tree.
pub(crate) fn node_names(node: &serde_json::Value, out: &mut Vec<String>) {
    if let Some(name) = node.get("name").and_then(|n| n.as_str()) {
        out.push(name.to_string());
    }
    for child in node
        .get("children")
        .and_then(|c| c.as_array())
        .into_iter()
        .flatten()
    {
        node_names(child, out);
    }
}

/// The engine's ID of one of our builder images, made or loaded as `repro check` would.
pub(crate) async fn builder_image(_d: &bollard::Docker, name: &str) -> String {
    let silent: std::sync::Arc<dyn repro::image::Progress> = std::sync::Arc::new(repro::image::Silent);
    repro::image::ensure_image(name, silent)
        .await
        .unwrap_or_else(|e| panic!("builder image {name}: {e}"))
        .image_id
}

/// Resolves `$id`s of repro's schemas to the files of `docs/schema/`.
struct LocalSchemas;

impl jsonschema::Retrieve for LocalSchemas {
    fn retrieve(
        &self,
        uri: &jsonschema::Uri<String>,
    ) -> Result<serde_json::Value, Box<dyn std::error::Error + Send + Sync>> {
        let name = uri.as_str().rsplit('/').next().unwrap_or_default().to_string();
        let text = std::fs::read_to_string(repo_root().join("docs/schema").join(&name))?;
        Ok(serde_json::from_str(&text)?)
    }
}

/// Whether an engine test should skip: true, after saying so on stderr, when
/// `REPRO_SKIP_ENGINE_TESTS=1` (machines with no Docker engine; CI never sets it). Every test
/// that needs the engine starts with `if common::skip_engine_test() { return; }`, so a missing
/// engine is a failure unless the skip is asked for.
pub(crate) fn skip_engine_test() -> bool {
    let skip = std::env::var_os("REPRO_SKIP_ENGINE_TESTS").is_some_and(|v| v == "1");
    if skip {
        let thread = std::thread::current();
        eprintln!(
            "SKIPPED {}: needs a Docker engine and REPRO_SKIP_ENGINE_TESTS=1 is set \
             (the test counts as passed without having run)",
            thread.name().unwrap_or("this test")
        );
    }
    skip
}

/// The securesystemslib release the tests check our envelopes against.
const SSLIB_VERSION: &str = "1.6.0";

/// A Python with securesystemslib (the independent DSSE verifier): a venv under the repro
/// cache (`<cache>/venv/sslib-<version>`), made on first use from the `python3` on PATH with
/// `python3 -m venv` and pip, so that no test depends on what is installed globally. Concurrent
/// tests wait on a lock while one of them makes it.
pub(crate) fn sslib_python() -> PathBuf {
    let cache = repro::image::Cache::from_env().expect("a cache directory (set REPRO_CACHE_DIR)");
    let venvs = cache.root().join("venv");
    std::fs::create_dir_all(&venvs).unwrap_or_else(|e| panic!("creating {}: {e}", venvs.display()));
    let venv = venvs.join(format!("sslib-{SSLIB_VERSION}"));
    let python = venv.join("bin/python3");
    let imports = |python: &Path| {
        Command::new(python)
            .args(["-c", "import securesystemslib, cryptography"])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    let lock_path = venvs.join(format!("sslib-{SSLIB_VERSION}.lock"));
    let lock =
        std::fs::File::create(&lock_path).unwrap_or_else(|e| panic!("creating {}: {e}", lock_path.display()));
    lock.lock()
        .unwrap_or_else(|e| panic!("locking {}: {e}", lock_path.display()));
    if imports(&python) {
        return python;
    }
    // A half-made venv (an interrupted earlier attempt) is made again from scratch.
    if venv.exists() {
        std::fs::remove_dir_all(&venv).unwrap_or_else(|e| panic!("removing {}: {e}", venv.display()));
    }
    let venv_arg = venv.display().to_string();
    let requirement = format!("securesystemslib[crypto]=={SSLIB_VERSION}");
    let steps: [(&Path, Vec<&str>, &str); 2] = [
        (
            Path::new("python3"),
            vec!["-m", "venv", &venv_arg],
            "python3 cannot make a venv: on Debian, `apt-get install python3-venv` (scripts/test.sh does)",
        ),
        (
            &python,
            vec!["-m", "pip", "install", "--quiet", &requirement],
            "pip cannot install securesystemslib into the test venv (is PyPI reachable?)",
        ),
    ];
    for (program, args, hint) in steps {
        let out = Command::new(program)
            .args(&args)
            .output()
            .unwrap_or_else(|e| panic!("running {}: {e}", program.display()));
        assert!(
            out.status.success(),
            "{hint}\n`{} {}` failed:\n{}{}",
            program.display(),
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert!(
        imports(&python),
        "the venv at {} has no securesystemslib",
        venv.display()
    );
    python
}

const SSLIB_SCRIPT: &str = r#"
import json, sys
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from securesystemslib.dsse import Envelope
from securesystemslib.signer import SSlibKey
env_path, pem_path = sys.argv[1], sys.argv[2]
key = SSlibKey.from_crypto(load_pem_public_key(open(pem_path, "rb").read()))
print(key.keyid)
envelope = Envelope.from_dict(json.load(open(env_path)))
envelope.verify([key], 1)
print("verified")
"#;

/// Has securesystemslib verify the DSSE envelope at `envelope` with the PEM public key at
/// `pem`: (verified, its stdout — the keyid it computes first).
pub(crate) fn sslib_verify(envelope: &Path, pem: &Path) -> (bool, String) {
    let out = Command::new(sslib_python())
        .arg("-c")
        .arg(SSLIB_SCRIPT)
        .arg(envelope)
        .arg(pem)
        .output()
        .expect("running python3");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// Compares two paths through the engine with `opts`, panicking on an input error.
pub(crate) fn compare_with(opts: repro::compare::Options, a: &Path, b: &Path) -> repro::compare::Comparison {
    repro::compare::Engine::new(opts, repro::compare::Registry::default())
        .expect("engine")
        .compare_paths(a, b)
        .expect("comparison")
}

/// Compares two paths with the default options.
pub(crate) fn compare(a: &Path, b: &Path) -> repro::compare::Comparison {
    compare_with(repro::compare::Options::default(), a, b)
}

/// The root of a comparison's difference tree; the inputs must differ.
pub(crate) fn root(c: &repro::compare::Comparison) -> &repro::compare::Node {
    c.root.as_ref().expect("the inputs should differ")
}

/// The first node (depth-first) with this name.
pub(crate) fn find<'a>(n: &'a repro::compare::Node, name: &str) -> Option<&'a repro::compare::Node> {
    if n.name == name {
        return Some(n);
    }
    n.children.iter().find_map(|c| find(c, name))
}

/// The first node (depth-first) with this name, or a panic showing the tree.
#[track_caller]
pub(crate) fn node<'a>(n: &'a repro::compare::Node, name: &str) -> &'a repro::compare::Node {
    find(n, name).unwrap_or_else(|| panic!("no node {name:?} in {n:#?}"))
}

/// The values of a field change on a node.
pub(crate) fn field(n: &repro::compare::Node, name: &str) -> Option<(Option<String>, Option<String>)> {
    n.changes.iter().find_map(|c| match c {
        repro::compare::Change::Field { field, a, b } if field == name => Some((a.clone(), b.clone())),
        _ => None,
    })
}

/// Asserts that `n` has a field change `name` from `a` to `b`.
#[track_caller]
pub(crate) fn assert_field(n: &repro::compare::Node, name: &str, a: &str, b: &str) {
    assert_eq!(
        field(n, name),
        Some((Some(a.to_string()), Some(b.to_string()))),
        "{n:#?}"
    );
}

/// Whether `n` carries a note containing `needle`.
pub(crate) fn has_note(n: &repro::compare::Node, needle: &str) -> bool {
    n.changes
        .iter()
        .any(|c| matches!(c, repro::compare::Change::Note { text } if text.contains(needle)))
}

/// Tight budgets for property tests over mutated archives: small members and expansions, a
/// time limit, so that a hostile mutation stays cheap.
pub(crate) fn bounded_options() -> repro::compare::Options {
    repro::compare::Options {
        max_member_bytes: 1 << 20,
        max_expanded_bytes: 4 << 20,
        max_entries: 10_000,
        time_budget: Some(std::time::Duration::from_secs(5)),
        ..repro::compare::Options::default()
    }
}
