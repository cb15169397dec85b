//! Go: `go.sum` read, modules fetched with `go mod download` into a module cache, each module
//! zip and go.mod re-checked on the host against go.sum's `h1:` hash (computed here, not taken
//! from Go's own `.ziphash`), and builds pointed at the cache with `GOPROXY=off`.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use fs_err as fs;
use sha2::{Digest as _, Sha256};

use super::{
    BuildSetup, Dependency, DepsError, Ecosystem, FetchPlan, FetchStep, Provision, STORE_MOUNT,
    read_optional, read_text, sha256_file, sha256_reader,
};

const FETCH_SCRIPT: &str = include_str!("go-fetch.sh");
/// The module cache, below the fetch output and the store entry's data.
const CACHE_DIR: &str = "go";
/// Go refuses module zips over 500 MiB uncompressed; so do we, whatever the zip claims.
const MAX_MODULE_BYTES: u64 = 500 << 20;
const MAX_MODULE_FILES: usize = 100_000;

/// One line of `go.sum`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct SumLine {
    pub module: String,
    pub version: String,
    /// The line is for the module's `go.mod` only (`VERSION/go.mod`).
    pub go_mod: bool,
    /// `h1:…` as written.
    pub hash: String,
}

/// Parses `go.sum`: `MODULE VERSION[/go.mod] h1:BASE64` lines.
pub fn parse_go_sum(text: &str, path: &Path) -> Result<Vec<SumLine>, DepsError> {
    let mut lines = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let words: Vec<&str> = line.split_whitespace().collect();
        let [module, version, hash] = words.as_slice() else {
            if words.is_empty() {
                continue;
            }
            return Err(DepsError::Lockfile {
                path: path.to_owned(),
                reason: format!("line {}: expected `module version hash`", n + 1),
            });
        };
        let (version, go_mod) = match version.strip_suffix("/go.mod") {
            Some(v) => (v, true),
            None => (*version, false),
        };
        lines.push(SumLine {
            module: (*module).to_owned(),
            version: version.to_owned(),
            go_mod,
            hash: (*hash).to_owned(),
        });
    }
    Ok(lines)
}

/// `None` when there is no `go.mod`.
pub(super) fn provision(root: &Path) -> Result<Option<Provision>, DepsError> {
    let go_mod = root.join("go.mod");
    if !go_mod.is_file() {
        return Ok(None);
    }
    if root.join("vendor/modules.txt").is_file() {
        return Ok(Some(Provision::Vendored {
            evidence: "vendor/modules.txt (go mod vendor)".to_owned(),
        }));
    }
    if root.join("go.sum").is_file() {
        return Ok(Some(Provision::Locked {
            lockfile: "go.sum".to_owned(),
        }));
    }
    let requires = read_text(&go_mod)?.lines().any(|l| {
        l.trim_start()
            .strip_prefix("require")
            .is_some_and(|r| r.starts_with([' ', '\t', '(']))
    });
    Ok(Some(if requires {
        Provision::Unlocked
    } else {
        Provision::Nothing
    }))
}

pub(super) fn key_inputs(root: &Path) -> Result<Vec<(String, Vec<u8>)>, DepsError> {
    let mut inputs = Vec::new();
    for name in ["go.mod", "go.sum", "go.work", "go.work.sum"] {
        if let Some(bytes) = read_optional(root, name)? {
            inputs.push((name.to_owned(), bytes));
        }
    }
    Ok(inputs)
}

pub(super) fn plan_fetch(root: &Path) -> Result<FetchPlan, DepsError> {
    if !root.join("go.sum").is_file() {
        return Err(DepsError::Missing {
            dependency: "go.sum".to_owned(),
            reason: "go.mod requires modules but there is no go.sum to verify them against\nhint: run \
                     `go mod tidy` and commit go.sum"
                .to_owned(),
        });
    }
    Ok(FetchPlan {
        ecosystem: Ecosystem::Go,
        image: Ecosystem::Go.builder_image(),
        inputs: Vec::new(),
        steps: vec![FetchStep {
            label: "go mod download",
            network: true,
            out_writable: true,
            argv: super::sh(FETCH_SCRIPT, &[]),
            env: BTreeMap::new(),
        }],
    })
}

/// The module cache's spelling of a module path or version: each upper-case letter as `!` and
/// its lower-case form (`github.com/BurntSushi` → `github.com/!burnt!sushi`).
pub fn escape(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for c in path.chars() {
        if c.is_ascii_uppercase() {
            out.push('!');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// Go's `dirhash.Hash1`: sha256 over the lines `"{sha256 hex}  {name}\n"` of the files sorted
/// by name, base64, prefixed `h1:`.
fn hash1(mut files: Vec<(String, [u8; 32])>) -> String {
    files.sort();
    let mut summary = Sha256::new();
    for (name, digest) in files {
        summary.update(format!("{}  {name}\n", hex::encode(digest)));
    }
    format!(
        "h1:{}",
        base64::engine::general_purpose::STANDARD.encode(summary.finalize())
    )
}

/// The `h1:` hash of a module zip, computed from its members.
pub fn zip_hash1(path: &Path) -> Result<String, DepsError> {
    let bad = |reason: String| DepsError::Lockfile {
        path: path.to_owned(),
        reason,
    };
    let mut archive =
        zip::ZipArchive::new(fs::File::open(path)?).map_err(|e| bad(format!("not a module zip: {e}")))?;
    if archive.len() > MAX_MODULE_FILES {
        return Err(bad(format!("more than {MAX_MODULE_FILES} files")));
    }
    let mut budget = MAX_MODULE_BYTES;
    let mut files = Vec::with_capacity(archive.len());
    for i in 0..archive.len() {
        let member = archive.by_index(i).map_err(|e| bad(format!("member {i}: {e}")))?;
        // Go hashes member names as bytes; module zips hold UTF-8 names only.
        let name = std::str::from_utf8(member.name_raw())
            .map_err(|_| bad(format!("member {i}: name is not UTF-8")))?
            .to_owned();
        if name.contains('\n') {
            return Err(bad(format!("member name {name:?} has a newline")));
        }
        let (digest, read) = sha256_reader(member.take(budget + 1))?;
        budget = budget
            .checked_sub(read)
            .ok_or_else(|| bad(format!("more than {} MiB uncompressed", MAX_MODULE_BYTES >> 20)))?;
        files.push((name, digest));
    }
    Ok(hash1(files))
}

/// The `h1:` hash of a `go.mod` file (hashed as the single file `go.mod`).
pub fn go_mod_hash1(path: &Path) -> Result<String, DepsError> {
    let (digest, _) = sha256_reader(fs::File::open(path)?)?;
    Ok(hash1(vec![("go.mod".to_owned(), digest)]))
}

/// Checks every module zip and go.mod in the fetched cache against go.sum, and lists the modules
/// (sha256 of their zip).
pub(super) fn verify_fetch(root: &Path, out: &Path) -> Result<Vec<Dependency>, DepsError> {
    let sum_path = root.join("go.sum");
    let sums = parse_go_sum(&read_text(&sum_path)?, &sum_path)?;
    let download = out.join(CACHE_DIR).join("cache").join("download");
    let mut expected = BTreeSet::new();
    let mut deps = Vec::new();
    for line in &sums {
        let base = download
            .join(escape(&line.module))
            .join("@v")
            .join(escape(&line.version));
        let (file, kind) = if line.go_mod {
            ("mod", "go.mod")
        } else {
            ("zip", "zip")
        };
        let path = PathBuf::from(format!("{}.{file}", base.display()));
        if !path.is_file() {
            continue; // in go.sum but not needed by this build list
        }
        let actual = if line.go_mod {
            go_mod_hash1(&path)?
        } else {
            zip_hash1(&path)?
        };
        if actual != line.hash {
            return Err(DepsError::DigestMismatch {
                dependency: format!("go {}@{} ({kind})", line.module, line.version),
                expected: line.hash.clone(),
                actual,
            });
        }
        expected.insert(path.clone());
        if !line.go_mod {
            deps.push(Dependency::new(
                Ecosystem::Go,
                &line.module,
                &line.version,
                &sha256_file(&path)?,
            ));
        }
    }
    // Every zip in the cache was checked: go.sum is the only authority on what may be there.
    let mut pending = vec![download];
    while let Some(dir) = pending.pop() {
        if !dir.is_dir() {
            continue;
        }
        for entry in fs::read_dir(&dir)? {
            let path = entry?.path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "zip") && !expected.contains(&path) {
                return Err(DepsError::Store {
                    path,
                    reason: "a module zip that go.sum does not list".to_owned(),
                });
            }
        }
    }
    Ok(deps)
}

/// Builds resolve modules only from the store's module cache.
pub(super) fn build_setup() -> BuildSetup {
    let env = [
        ("GOPROXY", "off".to_owned()),
        ("GOFLAGS", "-mod=mod".to_owned()),
        ("GOMODCACHE", format!("{STORE_MOUNT}/{CACHE_DIR}")),
        ("GOSUMDB", "off".to_owned()),
    ];
    BuildSetup::with_env(env)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn go_sum_lines_parse_and_malformed_ones_are_errors() {
        let text = "github.com/x/y v1.2.3 h1:abc=\ngithub.com/x/y v1.2.3/go.mod h1:def=\n\n";
        let lines = parse_go_sum(text, Path::new("go.sum")).unwrap();
        assert_eq!(lines.len(), 2);
        assert!(!lines.first().unwrap().go_mod && lines.get(1).unwrap().go_mod);
        assert_eq!(lines.get(1).unwrap().version, "v1.2.3");
        for bad in ["a b\n", "a b c d\n"] {
            assert!(parse_go_sum(bad, Path::new("go.sum")).is_err(), "{bad}");
        }
    }

    #[test]
    fn cache_paths_escape_upper_case() {
        assert_eq!(
            escape("github.com/BurntSushi/toml"),
            "github.com/!burnt!sushi/toml"
        );
        assert_eq!(escape("v1.0.0-RC1"), "v1.0.0-!r!c1");
    }

    #[test]
    fn hash1_matches_go_for_a_go_mod_file() {
        // go.sum of golang.org/x/text v0.3.0 says `/go.mod h1:NqM8EUOU14njkJ3fqMW+pc6Ldnwhi/IjpwHt7yyuwOQ=`
        // for a go.mod of one line.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v0.3.0.mod");
        fs::write(&path, "module golang.org/x/text\n").unwrap();
        assert_eq!(
            go_mod_hash1(&path).unwrap(),
            "h1:NqM8EUOU14njkJ3fqMW+pc6Ldnwhi/IjpwHt7yyuwOQ="
        );
    }

    /// A module cache with one module, as `go mod download` leaves it.
    fn cache(out: &Path, module: &str, version: &str, files: &[(&str, &str)]) -> PathBuf {
        let dir = out.join("go/cache/download").join(escape(module)).join("@v");
        fs::create_dir_all(&dir).unwrap();
        let zip_path = dir.join(format!("{}.zip", escape(version)));
        let mut zip = zip::ZipWriter::new(std::fs::File::create(&zip_path).unwrap());
        for (name, content) in files {
            zip.start_file(
                format!("{module}@{version}/{name}"),
                zip::write::SimpleFileOptions::default(),
            )
            .unwrap();
            zip.write_all(content.as_bytes()).unwrap();
        }
        zip.finish().unwrap();
        fs::write(
            dir.join(format!("{}.mod", escape(version))),
            format!("module {module}\n"),
        )
        .unwrap();
        zip_path
    }

    #[test]
    fn verification_recomputes_every_hash_against_go_sum() {
        let dir = tempfile::tempdir().unwrap();
        let (root, out) = (dir.path().join("src"), dir.path().join("out"));
        fs::create_dir_all(&root).unwrap();
        let module = "example.org/Lib";
        let zip = cache(
            &out,
            module,
            "v1.0.0",
            &[
                ("go.mod", "module example.org/Lib\n"),
                ("lib.go", "package lib\n"),
            ],
        );
        let zip_h1 = zip_hash1(&zip).unwrap();
        let mod_h1 = go_mod_hash1(&zip.with_extension("mod")).unwrap();
        let go_sum = format!(
            "{module} v1.0.0 {zip_h1}\n{module} v1.0.0/go.mod {mod_h1}\nother.org/x v2.0.0/go.mod h1:x=\n"
        );
        fs::write(root.join("go.sum"), &go_sum).unwrap();
        let deps = verify_fetch(&root, &out).unwrap();
        assert_eq!(
            deps,
            vec![Dependency::new(
                Ecosystem::Go,
                module,
                "v1.0.0",
                &sha256_file(&zip).unwrap()
            )]
        );
        assert_eq!(deps.first().unwrap().uri, "pkg:golang/example.org/lib@v1.0.0");

        // A zip with other content fails, naming the module.
        cache(
            &out,
            module,
            "v1.0.0",
            &[
                ("go.mod", "module example.org/Lib\n"),
                ("lib.go", "package evil\n"),
            ],
        );
        let err = verify_fetch(&root, &out).unwrap_err();
        assert!(
            matches!(&err, DepsError::DigestMismatch { dependency, .. } if dependency.contains("example.org/Lib@v1.0.0")),
            "{err}"
        );

        // A zip go.sum does not list is refused.
        cache(
            &out,
            module,
            "v1.0.0",
            &[
                ("go.mod", "module example.org/Lib\n"),
                ("lib.go", "package lib\n"),
            ],
        );
        assert!(verify_fetch(&root, &out).is_ok());
        cache(&out, "example.org/extra", "v0.1.0", &[("a.go", "package a\n")]);
        assert!(matches!(verify_fetch(&root, &out), Err(DepsError::Store { .. })));
    }

    #[test]
    fn hash1_matches_go_for_a_module_zip() {
        // `go mod tidy` (Go 1.24, trixie) against a file:// GOPROXY serving this module wrote:
        //   example.org/greet v1.0.0 h1:3f9Ipi41slKLY2VsLI+eSRCclFU+AQoIo8JXByvf+n8=
        //   example.org/greet v1.0.0/go.mod h1:BZd+xb2rt/BaLCv17W4QQ35BDRwGHqQYJ1/FakMcFyE=
        let dir = tempfile::tempdir().unwrap();
        let go_mod = "module example.org/greet\n\ngo 1.21\n";
        let zip = cache(
            dir.path(),
            "example.org/greet",
            "v1.0.0",
            &[
                ("go.mod", go_mod),
                (
                    "greet.go",
                    "package greet\n\nfunc Hello() string { return \"hello\" }\n",
                ),
            ],
        );
        assert_eq!(
            zip_hash1(&zip).unwrap(),
            "h1:3f9Ipi41slKLY2VsLI+eSRCclFU+AQoIo8JXByvf+n8="
        );
        let mod_path = dir.path().join("greet.mod");
        fs::write(&mod_path, go_mod).unwrap();
        assert_eq!(
            go_mod_hash1(&mod_path).unwrap(),
            "h1:BZd+xb2rt/BaLCv17W4QQ35BDRwGHqQYJ1/FakMcFyE="
        );
    }

    #[test]
    fn hostile_zips_are_errors_not_panics() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.zip");
        fs::write(&path, b"PK\x03\x04 not really").unwrap();
        assert!(matches!(zip_hash1(&path), Err(DepsError::Lockfile { .. })));
    }

    #[test]
    fn provision_distinguishes_vendored_locked_and_empty() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        assert_eq!(provision(root).unwrap(), None);
        fs::write(root.join("go.mod"), "module x\n\ngo 1.22\n").unwrap();
        assert_eq!(provision(root).unwrap(), Some(Provision::Nothing));
        fs::write(
            root.join("go.mod"),
            "module x\nrequire (\n\tgithub.com/a/b v1.0.0\n)\n",
        )
        .unwrap();
        assert_eq!(provision(root).unwrap(), Some(Provision::Unlocked));
        assert!(matches!(plan_fetch(root), Err(DepsError::Missing { .. })));
        fs::write(root.join("go.sum"), "").unwrap();
        assert!(matches!(provision(root).unwrap(), Some(Provision::Locked { .. })));
        fs::create_dir_all(root.join("vendor")).unwrap();
        fs::write(root.join("vendor/modules.txt"), "").unwrap();
        assert!(matches!(
            provision(root).unwrap(),
            Some(Provision::Vendored { .. })
        ));
    }
}
