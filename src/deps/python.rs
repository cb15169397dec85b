//! Python: the PEP 517 build requirements. `[build-system] requires` is downloaded with the
//! network on (wheels only, so nothing runs); the backend's `get_requires_for_build_*` hooks —
//! project code — then run with the network off against those files; what they ask for is
//! downloaded in a second networked round that runs no project code. Hashed locks the project
//! ships (`requirements*.txt` with `--hash`, `pylock.toml`) are checked against what was fetched.
//! Builds run with isolation, installing only from the fetched files.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use fs_err as fs;

use super::{
    BuildSetup, Dependency, DepsError, Ecosystem, FetchPlan, FetchStep, Provision, Recorded, STORE_MOUNT,
    Unverifiable, read_optional, read_text, sha256_file,
};

const FETCH_SCRIPT: &str = include_str!("python-fetch.sh");
const HOOKS_SCRIPT: &str = include_str!("python-hooks.py");
const FILTER_SCRIPT: &str = include_str!("requirements-filter.py");

/// PEP 517: a project without `[build-system]` is built by setuptools' legacy backend.
pub const DEFAULT_REQUIRES: &str = "setuptools>=40.8.0";

/// Where fetched distributions live, below the fetch output and the store entry's data.
const DIST_DIR: &str = "python";

/// `None` when the folder is not a Python project.
pub(super) fn provision(root: &Path) -> Result<Option<Provision>, DepsError> {
    if !root.join("pyproject.toml").is_file() && !root.join("setup.py").is_file() {
        return Ok(None);
    }
    let locks = hashed_locks(root)?;
    Ok(Some(match locks.first() {
        Some(lockfile) => Provision::Locked {
            lockfile: lockfile.clone(),
        },
        None => Provision::Unlocked,
    }))
}

/// The hashed locks at the top of the project: `pylock.toml`, `pylock.*.toml`, and
/// `requirements*.txt` files that carry `--hash`.
fn hashed_locks(root: &Path) -> Result<Vec<String>, DepsError> {
    let mut found = Vec::new();
    for entry in fs::read_dir(root)? {
        let entry = entry?;
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        if !entry.file_type()?.is_file() {
            continue;
        }
        let pylock = name == "pylock.toml" || (name.starts_with("pylock.") && name.ends_with(".toml"));
        let requirements = name.starts_with("requirements") && name.ends_with(".txt");
        if pylock || (requirements && read_text(&entry.path())?.contains("--hash")) {
            found.push(name);
        }
    }
    found.sort();
    Ok(found)
}

/// The `[build-system] requires` of `pyproject.toml`, or the PEP 517 default without one.
pub fn build_requires(root: &Path) -> Result<Vec<String>, DepsError> {
    let path = root.join("pyproject.toml");
    if !path.is_file() {
        return Ok(vec![DEFAULT_REQUIRES.to_owned()]);
    }
    let bad = |reason: String| DepsError::Lockfile {
        path: path.clone(),
        reason,
    };
    let doc: toml::Table = read_text(&path)?
        .parse()
        .map_err(|e: toml::de::Error| bad(format!("not TOML: {}", e.message())))?;
    let Some(system) = doc.get("build-system") else {
        return Ok(vec![DEFAULT_REQUIRES.to_owned()]);
    };
    let requires = system
        .get("requires")
        .and_then(toml::Value::as_array)
        .ok_or_else(|| bad("[build-system] has no `requires` list (PEP 518)".to_owned()))?;
    let mut list = Vec::with_capacity(requires.len());
    let mut refused = Vec::new();
    for item in requires {
        let Some(text) = item.as_str().map(str::trim) else {
            return Err(bad(format!("[build-system] requires: {item} is not a string")));
        };
        if text.starts_with('-') || text.contains(['\n', '\r']) {
            return Err(bad(format!(
                "[build-system] requires: {text:?} is not a requirement"
            )));
        }
        if text.contains(" @ ") || text.contains("://") {
            refused.push(Unverifiable {
                name: text.split(['@', ' ']).next().unwrap_or(text).to_owned(),
                version: "*".to_owned(),
                source: format!("direct reference in [build-system] requires: {text}"),
            });
            continue;
        }
        list.push(text.to_owned());
    }
    if !refused.is_empty() {
        return Err(DepsError::Unverifiable {
            ecosystem: Ecosystem::Python,
            dependencies: refused,
        });
    }
    Ok(list)
}

/// PEP 503 normalisation: lowercase, runs of `-`, `_`, `.` as one `-`.
pub fn normalize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut sep = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            sep = true;
            continue;
        }
        if sep && !out.is_empty() {
            out.push('-');
        }
        sep = false;
        out.push(c.to_ascii_lowercase());
    }
    out
}

/// The sha256 digests a hashed lock allows, by (normalised name, version).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pins {
    pub allowed: BTreeMap<(String, String), BTreeSet<String>>,
}

impl Pins {
    fn add(&mut self, name: &str, version: &str, sha256: &str) {
        self.allowed
            .entry((normalize(name), version.to_owned()))
            .or_default()
            .insert(sha256.to_ascii_lowercase());
    }

    /// Reads the `name==version … --hash=sha256:…` entries of a requirements file.
    pub fn add_requirements(&mut self, text: &str) {
        let joined = text.replace("\\\r\n", " ").replace("\\\n", " ");
        for line in joined.lines() {
            let line = line.split(" #").next().unwrap_or_default().trim();
            if line.starts_with('#') || line.starts_with('-') {
                continue;
            }
            let mut words = line.split_whitespace();
            let Some(spec) = words.next() else { continue };
            let spec = spec.split(';').next().unwrap_or(spec);
            let Some((name, version)) = spec.split_once("==") else {
                continue;
            };
            let name = name.split('[').next().unwrap_or(name);
            let mut words = words.peekable();
            while let Some(word) = words.next() {
                let value = match word.strip_prefix("--hash=") {
                    Some(v) => Some(v),
                    None if word == "--hash" => words.next(),
                    None => None,
                };
                if let Some(sum) = value.and_then(|v| v.strip_prefix("sha256:")) {
                    self.add(name, version.trim(), sum);
                }
            }
        }
    }

    /// Reads the packages of a PEP 751 `pylock.toml`: each wheel's and sdist's sha256.
    pub fn add_pylock(&mut self, text: &str, path: &Path) -> Result<(), DepsError> {
        let doc: toml::Table = text.parse().map_err(|e: toml::de::Error| DepsError::Lockfile {
            path: path.to_owned(),
            reason: format!("not TOML: {}", e.message()),
        })?;
        let packages = doc
            .get("packages")
            .and_then(toml::Value::as_array)
            .into_iter()
            .flatten();
        for package in packages {
            let field = |key: &str| package.get(key).and_then(toml::Value::as_str);
            let (Some(name), Some(version)) = (field("name"), field("version")) else {
                continue;
            };
            let wheels = package
                .get("wheels")
                .and_then(toml::Value::as_array)
                .into_iter()
                .flatten();
            for file in wheels.chain(package.get("sdist")) {
                if let Some(sum) = file
                    .get("hashes")
                    .and_then(|h| h.get("sha256"))
                    .and_then(toml::Value::as_str)
                {
                    self.add(name, version, sum);
                }
            }
        }
        Ok(())
    }

    /// Every hashed lock of the project.
    pub fn read(root: &Path) -> Result<Pins, DepsError> {
        let mut pins = Pins::default();
        for name in hashed_locks(root)? {
            let path = root.join(&name);
            let text = read_text(&path)?;
            if name.ends_with(".toml") {
                pins.add_pylock(&text, &path)?;
            } else {
                pins.add_requirements(&text);
            }
        }
        Ok(pins)
    }

    /// `name==version` lines for pip's `-c`.
    fn constraints(&self) -> String {
        self.allowed
            .keys()
            .map(|(name, version)| format!("{name}=={version}\n"))
            .collect()
    }
}

pub(super) fn key_inputs(root: &Path) -> Result<Vec<(String, Vec<u8>)>, DepsError> {
    let mut inputs = Vec::new();
    for name in ["pyproject.toml", "setup.py", "setup.cfg"]
        .into_iter()
        .map(str::to_owned)
        .chain(hashed_locks(root)?)
    {
        if let Some(bytes) = read_optional(root, &name)? {
            inputs.push((name, bytes));
        }
    }
    Ok(inputs)
}

pub(super) fn plan_fetch(root: &Path, recorded: Option<&Recorded>) -> Result<FetchPlan, DepsError> {
    let step = |label, network, argv| FetchStep {
        label,
        network,
        out_writable: network,
        argv,
        env: BTreeMap::new(),
    };
    let download = |file: &str, mode: &str| super::sh(FETCH_SCRIPT, &[file, mode]);
    let mut inputs = vec![(
        "requirements-filter.py".to_owned(),
        FILTER_SCRIPT.as_bytes().to_vec(),
    )];

    if let Some(recorded) = recorded {
        // A rebuild downloads exactly the recorded files, each pinned by version and digest.
        let pinned: String = recorded
            .dependencies
            .iter()
            .filter(|d| d.ecosystem == Ecosystem::Python)
            .map(|d| format!("{}=={} --hash=sha256:{}\n", d.name, d.version, d.digest.sha256))
            .collect();
        inputs.push(("pinned.txt".to_owned(), pinned.into_bytes()));
        inputs.push(("constraints.txt".to_owned(), Vec::new()));
        return Ok(FetchPlan {
            ecosystem: Ecosystem::Python,
            image: Ecosystem::Python.builder_image(),
            inputs,
            steps: vec![step(
                "recorded build requirements",
                true,
                download("/fetch/in/pinned.txt", "exact"),
            )],
        });
    }

    let requires = build_requires(root)?;
    // Only a build lock constrains versions: a runtime lock's pins need not suit the backend.
    let mut build_pins = Pins::default();
    for name in ["requirements-build.txt"] {
        if let Some(bytes) = read_optional(root, name)? {
            build_pins.add_requirements(&String::from_utf8_lossy(&bytes));
        }
    }
    inputs.push(("requires.txt".to_owned(), requires.join("\n").into_bytes()));
    inputs.push((
        "constraints.txt".to_owned(),
        build_pins.constraints().into_bytes(),
    ));
    inputs.push(("hooks.py".to_owned(), HOOKS_SCRIPT.as_bytes().to_vec()));
    Ok(FetchPlan {
        ecosystem: Ecosystem::Python,
        image: Ecosystem::Python.builder_image(),
        inputs,
        steps: vec![
            step(
                "build-system requires",
                true,
                download("/fetch/in/requires.txt", "resolve"),
            ),
            step(
                "build backend hooks (offline)",
                false,
                vec!["python3".to_owned(), "/fetch/in/hooks.py".to_owned()],
            ),
            step(
                "build backend requirements",
                true,
                download("/fetch/state/hook-requires.txt", "resolve"),
            ),
        ],
    })
}

/// `(name, version)` from a wheel's file name (`{name}-{version}(-{build})?-{py}-{abi}-{plat}.whl`).
pub fn wheel_name_version(file_name: &str) -> Option<(String, String)> {
    let stem = file_name.strip_suffix(".whl")?;
    let parts: Vec<&str> = stem.split('-').collect();
    if !(5..=6).contains(&parts.len()) || parts.iter().any(|p| p.is_empty()) {
        return None;
    }
    Some((normalize(parts.first()?), (*parts.get(1)?).to_owned()))
}

/// Lists the downloaded wheels with their sha256, and checks each against the project's hashed
/// locks where they name the same version.
pub(super) fn verify_fetch(root: &Path, out: &Path) -> Result<Vec<Dependency>, DepsError> {
    for entry in fs::read_dir(out)? {
        let name = entry?.file_name();
        if name != DIST_DIR {
            return Err(DepsError::Store {
                path: out.join(name),
                reason: "not something the Python fetch writes".to_owned(),
            });
        }
    }
    let pins = Pins::read(root)?;
    let dists = out.join(DIST_DIR);
    let mut deps = Vec::new();
    if !dists.is_dir() {
        return Ok(deps);
    }
    for entry in fs::read_dir(&dists)? {
        let entry = entry?;
        let path = entry.path();
        let file_name = entry.file_name().to_string_lossy().into_owned();
        let Some((name, version)) =
            wheel_name_version(&file_name).filter(|_| entry.file_type().is_ok_and(|t| t.is_file()))
        else {
            return Err(DepsError::Store {
                path,
                reason: "not a wheel; the fetch downloads wheels only".to_owned(),
            });
        };
        let sha256 = sha256_file(&path)?;
        if let Some(allowed) = pins.allowed.get(&(name.clone(), version.clone()))
            && !allowed.contains(&sha256)
        {
            return Err(DepsError::DigestMismatch {
                dependency: format!(
                    "python {name}@{version} ({file_name}, pinned by the project's hashed lock)"
                ),
                expected: allowed.iter().cloned().collect::<Vec<_>>().join(" or "),
                actual: sha256,
            });
        }
        deps.push(Dependency::new(Ecosystem::Python, &name, &version, &sha256));
    }
    Ok(deps)
}

/// `python3 -m build` with isolation, installing only from the fetched wheels.
pub(super) fn build_setup() -> BuildSetup {
    let env = [
        ("PIP_NO_INDEX", "1".to_owned()),
        ("PIP_FIND_LINKS", format!("{STORE_MOUNT}/{DIST_DIR}")),
        ("PIP_CONFIG_FILE", "/dev/null".to_owned()),
        ("PIP_DISABLE_PIP_VERSION_CHECK", "1".to_owned()),
    ];
    BuildSetup::with_env(env)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SUM: &str = "2a8a5e62ac4e15a6f0e1d0a3c2b4e8a0b26b1d7ffef6d2db8e3a0c1b5d1e4f67";

    #[test]
    fn build_requires_come_from_pyproject_or_the_pep_517_default() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        assert_eq!(build_requires(root).unwrap(), vec![DEFAULT_REQUIRES]);
        fs::write(root.join("pyproject.toml"), "[project]\nname = \"x\"\n").unwrap();
        assert_eq!(build_requires(root).unwrap(), vec![DEFAULT_REQUIRES]);
        fs::write(
            root.join("pyproject.toml"),
            "[build-system]\nrequires = [\"hatchling>=1.21\", \" hatch-vcs \"]\nbuild-backend = \"hatchling.build\"\n",
        )
        .unwrap();
        assert_eq!(
            build_requires(root).unwrap(),
            vec!["hatchling>=1.21", "hatch-vcs"]
        );
        for bad in [
            "[build-system]\nbuild-backend = \"x\"\n",
            "[build-system]\nrequires = [1]\n",
            "[build-system]\nrequires = [\"--index-url=http://evil\"]\n",
            "[build-system\n",
        ] {
            fs::write(root.join("pyproject.toml"), bad).unwrap();
            assert!(
                matches!(build_requires(root), Err(DepsError::Lockfile { .. })),
                "{bad}"
            );
        }
        fs::write(
            root.join("pyproject.toml"),
            "[build-system]\nrequires = [\"backend @ https://example.org/b.whl\"]\n",
        )
        .unwrap();
        assert!(matches!(
            build_requires(root),
            Err(DepsError::Unverifiable { .. })
        ));
    }

    #[test]
    fn names_normalise_per_pep_503() {
        assert_eq!(normalize("Flit_Core"), "flit-core");
        assert_eq!(normalize("zope.interface"), "zope-interface");
        assert_eq!(normalize("a__-.b"), "a-b");
        assert_eq!(normalize("_x_"), "x");
    }

    #[test]
    fn wheel_file_names_give_name_and_version() {
        assert_eq!(
            wheel_name_version("flit_core-3.9.0-py3-none-any.whl"),
            Some(("flit-core".to_owned(), "3.9.0".to_owned()))
        );
        assert_eq!(
            wheel_name_version("PyYAML-6.0.1-1-cp313-cp313-manylinux_2_17_x86_64.whl"),
            Some(("pyyaml".to_owned(), "6.0.1".to_owned()))
        );
        for bad in ["x.whl", "a-1.tar.gz", "a--py3-none-any.whl", "a-1-b-c-d-e-f.whl"] {
            assert_eq!(wheel_name_version(bad), None, "{bad}");
        }
    }

    #[test]
    fn hashed_requirements_and_pylock_give_pins() {
        let mut pins = Pins::default();
        pins.add_requirements(&format!(
            "# comment\n--index-url https://x\nFlit_Core==3.9.0 \\\n    --hash=sha256:{SUM} \\\n    --hash sha256:{}\n\
             packaging[x]==24.1 ; python_version >= \"3.8\" --hash=sha256:{SUM}  # trailing\nunpinned>=1\n",
            "b".repeat(64)
        ));
        let flit = pins
            .allowed
            .get(&("flit-core".to_owned(), "3.9.0".to_owned()))
            .unwrap();
        assert_eq!(flit.len(), 2);
        assert!(
            pins.allowed
                .contains_key(&("packaging".to_owned(), "24.1".to_owned()))
        );
        assert_eq!(pins.allowed.len(), 2);

        let mut pins = Pins::default();
        pins.add_pylock(
            &format!(
                "lock-version = \"1.0\"\n[[packages]]\nname = \"idna\"\nversion = \"3.7\"\n\
                 sdist = {{ name = \"idna-3.7.tar.gz\", hashes = {{ sha256 = \"{SUM}\" }} }}\n\
                 wheels = [{{ name = \"idna-3.7-py3-none-any.whl\", hashes = {{ sha256 = \"{}\" }} }}]\n\
                 [[packages]]\nname = \"noversion\"\n",
                "c".repeat(64)
            ),
            Path::new("pylock.toml"),
        )
        .unwrap();
        assert_eq!(
            pins.allowed
                .get(&("idna".to_owned(), "3.7".to_owned()))
                .map(BTreeSet::len),
            Some(2)
        );
        assert!(
            pins.add_pylock("[[packages]\n", Path::new("pylock.toml"))
                .is_err()
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn hostile_requirements_never_panic(text in "([a-zA-Z_.\\[\\]]{0,6}(==|>=)?[0-9.]{0,4}( ?--hash[= ]?(sha256:)?[0-9a-f]{0,4})*( ;|#|\\\\)?\n){0,8}") {
            let mut pins = Pins::default();
            pins.add_requirements(&text);
            let _ = pins.add_pylock(&text, Path::new("pylock.toml"));
        }
    }

    fn wheel(out: &Path, file: &str, content: &str) {
        fs::create_dir_all(out.join(DIST_DIR)).unwrap();
        fs::write(out.join(DIST_DIR).join(file), content).unwrap();
    }

    #[test]
    fn verification_lists_wheels_and_enforces_the_projects_pins() {
        let dir = tempfile::tempdir().unwrap();
        let (root, out) = (dir.path().join("src"), dir.path().join("out"));
        fs::create_dir_all(&root).unwrap();
        fs::create_dir_all(&out).unwrap();
        fs::write(root.join("pyproject.toml"), "").unwrap();
        assert_eq!(verify_fetch(&root, &out).unwrap(), vec![]);
        wheel(&out, "flit_core-3.9.0-py3-none-any.whl", "wheel bytes");
        let sha = super::super::sha256_hex(b"wheel bytes");
        assert_eq!(
            verify_fetch(&root, &out).unwrap(),
            vec![Dependency::new(Ecosystem::Python, "flit-core", "3.9.0", &sha)]
        );
        fs::write(
            root.join("requirements-build.txt"),
            format!("flit-core==3.9.0 --hash=sha256:{SUM}\n"),
        )
        .unwrap();
        assert_eq!(
            provision(&root).unwrap(),
            Some(Provision::Locked {
                lockfile: "requirements-build.txt".to_owned()
            })
        );
        let err = verify_fetch(&root, &out).unwrap_err();
        assert!(
            matches!(&err, DepsError::DigestMismatch { dependency, .. } if dependency.contains("flit-core@3.9.0")),
            "{err}"
        );
        fs::write(
            root.join("requirements-build.txt"),
            format!("flit-core==3.9.0 --hash=sha256:{sha}\n"),
        )
        .unwrap();
        assert_eq!(verify_fetch(&root, &out).unwrap().len(), 1);
        wheel(&out, "flit_core-3.9.0.tar.gz", "sdist");
        assert!(matches!(verify_fetch(&root, &out), Err(DepsError::Store { .. })));
    }

    #[test]
    fn fetch_plans_keep_project_code_offline() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("setup.py"), "").unwrap();
        let plan = plan_fetch(dir.path(), None).unwrap();
        let steps: Vec<_> = plan.steps.iter().map(|s| (s.network, s.out_writable)).collect();
        assert_eq!(steps, [(true, true), (false, false), (true, true)]);
        let requires = plan.inputs.iter().find(|(n, _)| n == "requires.txt").unwrap();
        assert_eq!(requires.1, DEFAULT_REQUIRES.as_bytes());

        let recorded = Recorded {
            dependencies: vec![Dependency::new(Ecosystem::Python, "flit-core", "3.9.0", SUM)],
            lockfile: None,
        };
        let plan = plan_fetch(dir.path(), Some(&recorded)).unwrap();
        assert_eq!(plan.steps.len(), 1);
        let pinned = plan.inputs.iter().find(|(n, _)| n == "pinned.txt").unwrap();
        assert_eq!(
            String::from_utf8_lossy(&pinned.1),
            format!("flit-core==3.9.0 --hash=sha256:{SUM}\n")
        );
    }
}
