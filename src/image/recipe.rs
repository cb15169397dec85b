//! Builder-image recipes: the TOML files in `scripts/images/`, resolved into one `mmdebstrap`
//! invocation whose own sha256 keys the cache.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::ImageError;

/// The recipes shipped with repro, compiled in so `repro image build default` works anywhere.
const BUILTIN: &[(&str, &str)] = &[
    ("default", include_str!("../../scripts/images/default.toml")),
    ("rust", include_str!("../../scripts/images/rust.toml")),
    ("go", include_str!("../../scripts/images/go.toml")),
    ("node", include_str!("../../scripts/images/node.toml")),
];

/// How deep `extends` may chain; a loop or a runaway chain is an error, not a stack overflow.
const MAX_EXTENDS: usize = 8;

/// Bumped when the way a recipe becomes a command changes, so old cache entries stop matching.
const COMMAND_FORMAT: u32 = 1;

/// Names of the recipes shipped with repro.
pub fn builtin_names() -> impl Iterator<Item = &'static str> {
    BUILTIN.iter().map(|(name, _)| *name)
}

/// Whether `name` is one of the recipes shipped with repro.
pub fn is_builtin(name: &str) -> bool {
    BUILTIN.iter().any(|(n, _)| *n == name)
}

/// One recipe file as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RecipeFile {
    extends: Option<String>,
    description: Option<String>,
    suite: Option<String>,
    mirror: Option<String>,
    components: Option<Vec<String>>,
    architecture: Option<String>,
    variant: Option<String>,
    source_date_epoch: Option<i64>,
    #[serde(default)]
    packages: Vec<String>,
    #[serde(default)]
    customize_hooks: Vec<String>,
}

/// A recipe with `extends` resolved: everything needed to run mmdebstrap.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Recipe {
    pub name: String,
    pub description: String,
    pub suite: String,
    pub mirror: String,
    pub components: Vec<String>,
    /// Debian architecture name (`amd64`), passed to mmdebstrap and written to the image config.
    pub architecture: String,
    pub variant: String,
    pub source_date_epoch: i64,
    /// Sorted and deduplicated: the order in a file must not change the image.
    pub packages: Vec<String>,
    /// Shell snippets run in order by mmdebstrap after installation, with the root as `$1`.
    pub customize_hooks: Vec<String>,
}

/// The command a recipe becomes, minus the output path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Command {
    pub program: &'static str,
    /// Arguments before the output path.
    pub args_before_target: Vec<String>,
    /// Arguments after the output path (the mirror).
    pub args_after_target: Vec<String>,
    /// Environment set on top of the caller's, sorted.
    pub env: BTreeMap<String, String>,
}

impl Recipe {
    /// A recipe shipped with repro, by name.
    pub fn builtin(name: &str) -> Result<Recipe, ImageError> {
        resolve(name, text_of(name)?, 0)
    }

    /// A recipe by built-in name, or from a `.toml` file (named after the file's stem).
    pub fn load(name_or_path: &str) -> Result<Recipe, ImageError> {
        if is_builtin(name_or_path) {
            return Recipe::builtin(name_or_path);
        }
        let path = Path::new(name_or_path);
        if path.extension().is_some_and(|e| e == "toml") {
            let text = fs_err::read_to_string(path).map_err(ImageError::Io)?;
            let name = path.file_stem().and_then(|s| s.to_str()).unwrap_or("custom");
            check_name(name)?;
            return resolve(name, &text, 0);
        }
        Err(unknown(name_or_path))
    }

    /// Parses recipe text as a recipe called `name` (`extends` refers to built-in recipes).
    pub fn parse(name: &str, text: &str) -> Result<Recipe, ImageError> {
        check_name(name)?;
        resolve(name, text, 0)
    }

    /// The mmdebstrap invocation. `--mode=root` because the other modes change file
    /// ownership handling and are slower; the caller checks we are root first.
    pub fn command(&self) -> Command {
        let mut args = vec![
            "--mode=root".to_owned(),
            "--format=tar".to_owned(),
            format!("--variant={}", self.variant),
            format!("--architectures={}", self.architecture),
            format!("--components={}", self.components.join(",")),
        ];
        if !self.packages.is_empty() {
            args.push(format!("--include={}", self.packages.join(",")));
        }
        args.extend(
            self.customize_hooks
                .iter()
                .map(|h| format!("--customize-hook={h}")),
        );
        args.push(self.suite.clone());
        let env = BTreeMap::from([
            ("SOURCE_DATE_EPOCH".to_owned(), self.source_date_epoch.to_string()),
            // Hooks run with the caller's environment: fix what could leak into the rootfs.
            ("LC_ALL".to_owned(), "C.UTF-8".to_owned()),
            ("TZ".to_owned(), "UTC".to_owned()),
        ]);
        Command {
            program: "mmdebstrap",
            args_before_target: args,
            args_after_target: vec![self.mirror.clone()],
            env,
        }
    }

    /// sha256 (hex) of the command this recipe becomes: the cache key. Descriptions and
    /// comments do not count; anything that can change the tarball does.
    pub fn hash(&self) -> String {
        #[derive(Serialize)]
        struct Keyed<'a> {
            format: u32,
            command: &'a Command,
        }
        let keyed = Keyed {
            format: COMMAND_FORMAT,
            command: &self.command(),
        };
        // Serialising a struct of strings, vectors and a BTreeMap cannot fail.
        let bytes = serde_json::to_vec(&keyed).unwrap_or_default();
        hex::encode(Sha256::digest(&bytes))
    }
}

fn text_of(name: &str) -> Result<&'static str, ImageError> {
    BUILTIN
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, text)| *text)
        .ok_or_else(|| unknown(name))
}

fn unknown(name: &str) -> ImageError {
    ImageError::UnknownRecipe {
        name: name.to_owned(),
        known: builtin_names().collect::<Vec<_>>().join(", "),
    }
}

/// Image names become part of a Docker reference (`repro/NAME:…`) and of file names.
pub(super) fn check_name(name: &str) -> Result<(), ImageError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        && name.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err(ImageError::Recipe {
            name: name.to_owned(),
            reason:
                "image names are 1-64 characters of a-z, 0-9, '-' and '_', starting with a letter or digit"
                    .to_owned(),
        })
    }
}

fn resolve(name: &str, text: &str, depth: usize) -> Result<Recipe, ImageError> {
    let bad = |reason: String| ImageError::Recipe {
        name: name.to_owned(),
        reason,
    };
    if depth > MAX_EXTENDS {
        return Err(bad(format!(
            "`extends` chains deeper than {MAX_EXTENDS} (a loop?)"
        )));
    }
    let file: RecipeFile = toml::from_str(text).map_err(|e| bad(e.to_string()))?;
    let mut recipe = match &file.extends {
        Some(parent) => {
            let parent_text =
                text_of(parent).map_err(|_| bad(format!("extends unknown recipe `{parent}`")))?;
            let mut parent = resolve(parent, parent_text, depth + 1)?;
            parent.name = name.to_owned();
            parent
        }
        None => Recipe {
            name: name.to_owned(),
            description: String::new(),
            suite: need(file.suite.clone(), "suite").map_err(&bad)?,
            mirror: need(file.mirror.clone(), "mirror").map_err(&bad)?,
            components: need(file.components.clone(), "components").map_err(&bad)?,
            architecture: need(file.architecture.clone(), "architecture").map_err(&bad)?,
            variant: need(file.variant.clone(), "variant").map_err(&bad)?,
            source_date_epoch: need(file.source_date_epoch, "source_date_epoch").map_err(&bad)?,
            packages: Vec::new(),
            customize_hooks: Vec::new(),
        },
    };
    replace(&mut recipe.description, file.description);
    replace(&mut recipe.suite, file.suite);
    replace(&mut recipe.mirror, file.mirror);
    replace(&mut recipe.components, file.components);
    replace(&mut recipe.architecture, file.architecture);
    replace(&mut recipe.variant, file.variant);
    replace(&mut recipe.source_date_epoch, file.source_date_epoch);
    recipe.packages.extend(file.packages);
    recipe.packages.sort();
    recipe.packages.dedup();
    recipe.customize_hooks.extend(file.customize_hooks);
    validate(&recipe).map_err(bad)?;
    Ok(recipe)
}

/// A key the file gives replaces the parent's value.
fn replace<T>(slot: &mut T, value: Option<T>) {
    if let Some(value) = value {
        *slot = value;
    }
}

fn need<T>(value: Option<T>, key: &str) -> Result<T, String> {
    value.ok_or_else(|| format!("missing `{key}` (and no `extends`)"))
}

/// Rejects values that would be misread as separate or extra mmdebstrap arguments.
fn validate(recipe: &Recipe) -> Result<(), String> {
    let word = |what: &str, v: &str| {
        let ok = !v.is_empty()
            && !v.starts_with('-')
            && v.bytes()
                .all(|b| b.is_ascii_graphic() && b != b',' && b != b'\'' && b != b'"');
        if ok {
            Ok(())
        } else {
            Err(format!("invalid {what} `{v}`"))
        }
    };
    word("suite", &recipe.suite)?;
    word("mirror", &recipe.mirror)?;
    word("architecture", &recipe.architecture)?;
    word("variant", &recipe.variant)?;
    if recipe.components.is_empty() {
        return Err("`components` is empty".to_owned());
    }
    for c in &recipe.components {
        word("component", c)?;
    }
    for p in &recipe.packages {
        word("package", p)?;
    }
    if recipe.source_date_epoch < 0 {
        return Err("`source_date_epoch` is negative".to_owned());
    }
    if recipe.architecture != "amd64" {
        // The image config and the engine test only cover amd64 so far.
        return Err(format!(
            "architecture `{}` is not supported yet (only amd64)",
            recipe.architecture
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_recipes_resolve() {
        for name in builtin_names() {
            let recipe = Recipe::builtin(name).unwrap();
            assert_eq!(recipe.suite, "trixie");
            assert!(recipe.packages.contains(&"build-essential".to_owned()), "{name}");
            assert!(
                recipe
                    .customize_hooks
                    .iter()
                    .any(|h| h.contains("/etc/resolv.conf"))
            );
            assert!(recipe.customize_hooks.iter().any(|h| h.contains("/etc/hostname")));
            assert!(recipe.customize_hooks.iter().any(|h| h.contains("locale-gen")));
        }
        let rust = Recipe::builtin("rust").unwrap();
        assert!(rust.packages.contains(&"cargo".to_owned()) && rust.packages.contains(&"rustc".to_owned()));
        let go = Recipe::builtin("go").unwrap();
        assert!(go.packages.contains(&"golang-go".to_owned()));
        assert!(
            !Recipe::builtin("default")
                .unwrap()
                .packages
                .contains(&"rustc".to_owned())
        );
    }

    #[test]
    fn hashes_differ_per_recipe_and_ignore_descriptions() {
        let hashes: Vec<String> = builtin_names()
            .map(|n| Recipe::builtin(n).unwrap().hash())
            .collect();
        assert_eq!(hashes.len(), 4);
        let distinct: std::collections::BTreeSet<&String> = hashes.iter().collect();
        assert_eq!(distinct.len(), hashes.len());
        let text = text_of("default").unwrap();
        let a = Recipe::parse("default", text).unwrap();
        let b = Recipe::parse(
            "default",
            &text.replace("description = \"Debian", "description = \"Other"),
        )
        .unwrap();
        assert_ne!(a.description, b.description);
        assert_eq!(a.hash(), b.hash());
        // Package order in the file does not matter; a package more does.
        let c = Recipe::parse(
            "default",
            &text.replace("\"zip\",\n    \"zstd\"", "\"zstd\",\n    \"zip\""),
        )
        .unwrap();
        assert_eq!(a.hash(), c.hash());
        let d = Recipe::parse("default", &text.replace("\"zstd\",", "\"zstd\", \"file\",")).unwrap();
        assert_ne!(a.hash(), d.hash());
    }

    #[test]
    fn command_has_fixed_options_and_epoch() {
        let cmd = Recipe::builtin("default").unwrap().command();
        assert_eq!(cmd.program, "mmdebstrap");
        assert!(cmd.args_before_target.contains(&"--variant=apt".to_owned()));
        assert!(cmd.args_before_target.contains(&"--mode=root".to_owned()));
        assert_eq!(cmd.args_before_target.last().map(String::as_str), Some("trixie"));
        assert_eq!(cmd.args_after_target, ["http://deb.debian.org/debian"]);
        assert_eq!(
            cmd.env.get("SOURCE_DATE_EPOCH").map(String::as_str),
            Some("1761955200")
        );
    }

    #[test]
    fn rejects_bad_recipes() {
        let cases = [
            ("", "missing `suite`"),
            ("extends = \"nope\"", "unknown recipe"),
            (
                "extends = \"default\"\npackages = [\"--allow-everything\"]",
                "invalid package",
            ),
            ("extends = \"default\"\npackages = [\"a,b\"]", "invalid package"),
            ("extends = \"default\"\narchitecture = \"arm64\"", "only amd64"),
            ("extends = \"default\"\nsource_date_epoch = -5", "negative"),
            ("extends = \"default\"\ncolour = \"blue\"", "unknown field"),
            ("extends = \"default\"\ncomponents = []", "empty"),
            ("not toml at all [", "TOML parse error"),
        ];
        for (text, want) in cases {
            let err = Recipe::parse("x", text).unwrap_err().to_string();
            assert!(err.contains(want), "{text:?}: {err}");
        }
        assert!(Recipe::parse("Bad Name", "extends = \"default\"").is_err());
        assert!(
            Recipe::load("no-such-image")
                .unwrap_err()
                .to_string()
                .contains("default, rust, go")
        );
    }
}
