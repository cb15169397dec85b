//! What a build definition may ask for, whoever wrote it (a `repro.toml`, a recipe, a recorded
//! provenance): output globs that stay inside the build folder, a control build path that is a
//! plain absolute folder, and environment variables whose names are names.

use super::BuildDef;

/// A field of a build definition that asks for what no build may have.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {why}")]
pub struct Refused {
    /// The field, as the definition spells it (`outputs[1]`, `env`, `control_path`).
    pub field: String,
    /// The value, shown escaped, and why it is refused.
    pub why: String,
}

/// Environment names a build definition may not set: the dynamic loader's (`LD_PRELOAD`,
/// `LD_LIBRARY_PATH`, `LD_AUDIT`, …) change which code every process of the build loads, and
/// repro itself sets `LD_PRELOAD` and `FAKETIME*` to vary the clock; a build that set them would
/// switch the variation off or shadow it without saying so.
const RESERVED_ENV_PREFIXES: &[&str] = &["LD_", "FAKETIME"];

/// Top-level folders of the build image a control build path may not be in: the system's own
/// (the build's source is unpacked there, over what the image holds).
const SYSTEM_DIRS: &[&str] = &[
    "bin", "boot", "dev", "etc", "lib", "lib32", "lib64", "libx32", "proc", "run", "sbin", "sys", "usr",
];

impl BuildDef {
    /// Refuses what no build may ask for, naming the field: globs that leave the build folder,
    /// a control path that is not a plain absolute folder, environment names that are not names.
    pub fn check(&self) -> Result<(), Refused> {
        let invalid = |field: String, why: String| Refused { field, why };
        for (list, globs) in [
            ("outputs", &self.outputs),
            ("exclude_outputs", &self.exclude_outputs),
        ] {
            for (i, g) in globs.iter().enumerate() {
                check_glob(g).map_err(|why| {
                    invalid(
                        format!("{list}[{i}]"),
                        format!("`{}`: {why}", crate::escape::text(g)),
                    )
                })?;
            }
        }
        if let Some(p) = &self.control_path {
            check_control_path(p).map_err(|why| {
                invalid(
                    "control_path".into(),
                    format!("`{}`: {why}", crate::escape::text(p)),
                )
            })?;
        }
        for (name, value) in &self.env {
            let shown = crate::escape::text(name);
            check_env_name(name).map_err(|why| invalid("env".into(), format!("`{shown}`: {why}")))?;
            if value.contains('\0') {
                return Err(invalid("env".into(), format!("`{shown}`: its value has a NUL")));
            }
        }
        Ok(())
    }
}

/// An output glob: relative to the build folder, without `..`, `.` or empty components.
pub fn check_glob(glob: &str) -> Result<(), String> {
    if glob.is_empty() {
        return Err("empty glob".into());
    }
    if glob.starts_with('/') {
        return Err("absolute: output globs are relative to the build folder".into());
    }
    if glob.contains('\0') || glob.contains('\\') {
        return Err("it has a NUL or a backslash".into());
    }
    for c in glob.split('/') {
        match c {
            ".." => return Err("it has `..`: outputs stay inside the build folder".into()),
            "." | "" => return Err("it has an empty or `.` component".into()),
            _ => {}
        }
    }
    Ok(())
}

/// A control build path: absolute, plain components (no `..`, `.`, empty), not in one of the
/// image's system folders.
pub fn check_control_path(path: &str) -> Result<(), String> {
    let Some(rest) = path.strip_prefix('/') else {
        return Err("it must be an absolute path in the build image".into());
    };
    if path.contains('\0') || path.contains('\\') {
        return Err("it has a NUL or a backslash".into());
    }
    let parts: Vec<&str> = rest.split('/').collect();
    for c in &parts {
        match *c {
            ".." => return Err("it has `..`: the build path stays where repro puts builds".into()),
            "." | "" => return Err("it has an empty or `.` component".into()),
            _ => {}
        }
    }
    if let Some(first) = parts.first()
        && SYSTEM_DIRS.contains(first)
    {
        return Err(format!("/{first} is a system folder of the image"));
    }
    Ok(())
}

/// An environment name: a portable name (`[A-Za-z_][A-Za-z0-9_]*`, so no `=`, NUL or space),
/// and none of the names that would switch a variation off (see [`RESERVED_ENV_PREFIXES`]).
pub fn check_env_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let portable = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !portable {
        return Err("not a variable name (letters, digits and `_`, not starting with a digit)".into());
    }
    if let Some(prefix) = RESERVED_ENV_PREFIXES.iter().find(|p| name.starts_with(**p)) {
        return Err(format!(
            "{prefix}* variables are refused: they change the code every process of the build \
             loads, and repro sets LD_PRELOAD and FAKETIME to vary the clock"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_stay_inside_the_build_folder() {
        for ok in ["out/**", "*.tar.gz", "dist/a-[0-9].whl", "target/release/x"] {
            check_glob(ok).unwrap();
        }
        for bad in [
            "../../../../etc/passwd",
            "/etc/hostname",
            "out/../../../../etc/group",
            "",
            "a//b",
            "./x",
            "a\\b",
        ] {
            assert!(check_glob(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn control_paths_are_plain_folders() {
        for ok in ["/workspace", "/build/a", "/home/builder/src"] {
            check_control_path(ok).unwrap();
        }
        for bad in [
            "workspace",
            "/../../../../tmp/x",
            "/build/../etc",
            "/",
            "/build//a",
            "/etc",
            "/usr/src/x",
            "/proc/self",
            "/a/./b",
        ] {
            assert!(check_control_path(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn env_names_are_names() {
        for ok in ["CFLAGS", "_X", "a1"] {
            check_env_name(ok).unwrap();
        }
        for bad in [
            "",
            "X=1; cmd; Y",
            "A B",
            "1X",
            "X\0",
            "LD_PRELOAD",
            "LD_AUDIT",
            "FAKETIME",
            "FAKETIME_X",
            "É",
        ] {
            assert!(check_env_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_definition_names_the_field_it_refuses() {
        let mut def = crate::recipe::parse_project("repro.toml", "[build]\ncommand = [\"x\"]\n").unwrap();
        def.check().unwrap();
        def.outputs = vec!["out/**".into(), "../up".into()];
        let e = def.check().unwrap_err().to_string();
        assert!(e.contains("outputs[1]") && e.contains("`..`"), "{e}");
        def.outputs.clear();
        def.env.insert("X=1; rm -rf /; Y".into(), "1".into());
        let e = def.check().unwrap_err().to_string();
        assert!(e.contains("env") && e.contains("not a variable name"), "{e}");
    }
}
