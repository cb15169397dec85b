//! The rebuilder's policy for what a recorded build asks for. A provenance is input from
//! someone else: its network access, resource limits, user, build path, output globs and
//! environment are requests. Network is refused unless the rebuilder allows it, limits are
//! clamped to the rebuilder's (never 0 = unlimited), and paths and names must be what they
//! claim to be. What was granted is recorded in the signed rebuild predicate.

use serde::Serialize;

use crate::recipe::BuildDef;

/// Where a recorded build definition is in the provenance, for naming refused fields.
pub const BUILD_FIELD: &str = "predicate.buildDefinition.externalParameters.build";

/// What the rebuilder allows: its own flags, else its defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Grant network access when the provenance asks for it (`--network`).
    pub network: bool,
    /// The longest a build may run (`--timeout`, default 30 minutes).
    pub max_timeout_secs: u64,
    /// The most memory a build may use (`--memory`, default 4 GiB).
    pub max_memory_bytes: u64,
    /// The most each bounded folder (`/tmp`, home, outputs) may hold (`--disk`, default 4 GiB:
    /// those folders are tmpfs and count against the memory limit anyway).
    pub max_disk_bytes: u64,
}

/// The rebuilder's limits when it gives none.
pub const DEFAULT_MAX_TIMEOUT_SECS: u64 = 30 * 60;
pub const DEFAULT_MAX_MEMORY_BYTES: u64 = 4 << 30;
pub const DEFAULT_MAX_DISK_BYTES: u64 = 4 << 30;

impl Default for Policy {
    fn default() -> Self {
        Policy {
            network: false,
            max_timeout_secs: DEFAULT_MAX_TIMEOUT_SECS,
            max_memory_bytes: DEFAULT_MAX_MEMORY_BYTES,
            max_disk_bytes: DEFAULT_MAX_DISK_BYTES,
        }
    }
}

/// Who the control run builds as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ControlUser {
    /// repro's unprivileged build user.
    Builder,
    /// uid 0 in the container (a recorded build that ran as the image's default user).
    Root,
}

/// What the rebuild was given, after the policy: recorded in the report and the attestation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Grants {
    /// The builds had the network (the provenance asked and `--network` allowed it): not
    /// hermetic.
    pub network: bool,
    pub timeout_secs: u64,
    pub memory_bytes: u64,
    pub disk_bytes: u64,
    /// What the provenance asked for (0: no limit).
    pub requested_timeout_secs: u64,
    pub requested_memory_bytes: u64,
    pub requested_disk_bytes: u64,
    pub control_user: ControlUser,
    /// The control run's build path, when the provenance records one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub control_path: Option<String>,
}

impl Grants {
    /// What the report should say about requests that were not granted as asked.
    pub fn notes(&self) -> Vec<String> {
        // (what, as asked, as granted, its unit, the rebuilder's flag); the unit written
        // with a space for a word.
        let limits = [
            (
                "a timeout",
                self.requested_timeout_secs,
                self.timeout_secs,
                "s",
                "--timeout",
            ),
            (
                "a memory limit",
                self.requested_memory_bytes,
                self.memory_bytes,
                " bytes",
                "--memory",
            ),
            (
                "a disk limit",
                self.requested_disk_bytes,
                self.disk_bytes,
                " bytes",
                "--disk",
            ),
        ];
        let mut notes: Vec<String> = limits
            .iter()
            .filter(|(_, asked, granted, _, _)| asked != granted)
            .map(|(what, asked, granted, unit, flag)| {
                let asked = if *asked == 0 {
                    "no limit".to_string()
                } else {
                    format!("{asked}{unit}")
                };
                format!(
                    "the provenance asks for {what} of {asked}; the rebuilder's limit \
                     {granted}{unit} applies ({flag})"
                )
            })
            .collect();
        if self.network {
            notes.push(
                "the provenance asked for the network and --network granted it: the rebuild is not hermetic"
                    .into(),
            );
        }
        notes
    }
}

/// A request of the provenance the policy refuses.
#[derive(Debug, thiserror::Error)]
#[error("the provenance asks for what this rebuilder does not allow: {field}: {why}")]
pub struct PolicyError {
    /// The field of the provenance, in full.
    pub field: String,
    pub why: String,
    pub hint: Option<String>,
}

/// Applies `policy` to the recorded build `build`: refuses what no build may ask for and what
/// the rebuilder does not allow, clamps the limits, and says what was granted.
pub fn apply(build: &mut BuildDef, policy: &Policy) -> Result<Grants, PolicyError> {
    build.check().map_err(|r| PolicyError {
        field: format!("{BUILD_FIELD}.{}", r.field),
        why: r.why,
        hint: None,
    })?;
    if build.network && !policy.network {
        return Err(PolicyError {
            field: format!("{BUILD_FIELD}.network"),
            why: "network access during the build".into(),
            hint: Some(
                "a build with the network is not hermetic; pass --network to grant it (recorded \
                 in the attestation; signing then also needs --allow-non-hermetic)"
                    .into(),
            ),
        });
    }
    let clamp = |asked: u64, max: u64| if asked == 0 { max } else { asked.min(max) };
    let grants = Grants {
        network: build.network,
        timeout_secs: clamp(build.timeout_secs, policy.max_timeout_secs.max(1)),
        memory_bytes: clamp(build.memory_bytes, policy.max_memory_bytes.max(1)),
        disk_bytes: clamp(build.disk_bytes, policy.max_disk_bytes.max(1)),
        requested_timeout_secs: build.timeout_secs,
        requested_memory_bytes: build.memory_bytes,
        requested_disk_bytes: build.disk_bytes,
        control_user: if build.control_root {
            ControlUser::Root
        } else {
            ControlUser::Builder
        },
        control_path: build.control_path.clone(),
    };
    build.timeout_secs = grants.timeout_secs;
    build.memory_bytes = grants.memory_bytes;
    build.disk_bytes = grants.disk_bytes;
    Ok(grants)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recorded() -> BuildDef {
        crate::recipe::parse_project(
            "repro.toml",
            "[build]\ncommand = [\"make\"]\ntimeout = \"10m\"\nmemory = \"1G\"\n",
        )
        .unwrap()
    }

    #[test]
    fn network_is_refused_unless_granted() {
        let mut b = recorded();
        b.network = true;
        let e = apply(&mut b.clone(), &Policy::default()).unwrap_err();
        assert_eq!(e.field, format!("{BUILD_FIELD}.network"));
        assert!(e.hint.unwrap().contains("--network"));
        let g = apply(
            &mut b,
            &Policy {
                network: true,
                ..Policy::default()
            },
        )
        .unwrap();
        assert!(g.network);
        assert!(g.notes().iter().any(|n| n.contains("not hermetic")));
    }

    #[test]
    fn disk_is_clamped_like_the_other_limits() {
        let mut b = recorded();
        b.disk_bytes = u64::MAX;
        let g = apply(&mut b, &Policy::default()).unwrap();
        assert_eq!(
            (g.disk_bytes, b.disk_bytes),
            (DEFAULT_MAX_DISK_BYTES, DEFAULT_MAX_DISK_BYTES)
        );
        assert!(g.notes().iter().any(|n| n.contains("--disk")), "{:?}", g.notes());
        let mut b = recorded();
        b.disk_bytes = 0;
        assert_eq!(
            apply(&mut b, &Policy::default()).unwrap().disk_bytes,
            DEFAULT_MAX_DISK_BYTES
        );
        let mut b = recorded();
        b.disk_bytes = 1 << 20;
        let g = apply(&mut b, &Policy::default()).unwrap();
        assert_eq!(g.disk_bytes, 1 << 20);
        assert!(g.notes().is_empty(), "{:?}", g.notes());
    }

    #[test]
    fn limits_are_clamped_and_never_unlimited() {
        let mut b = recorded();
        b.memory_bytes = 0;
        b.timeout_secs = 0;
        let g = apply(&mut b, &Policy::default()).unwrap();
        assert_eq!(
            (g.memory_bytes, g.timeout_secs),
            (DEFAULT_MAX_MEMORY_BYTES, DEFAULT_MAX_TIMEOUT_SECS)
        );
        assert_eq!(
            (b.memory_bytes, b.timeout_secs),
            (DEFAULT_MAX_MEMORY_BYTES, DEFAULT_MAX_TIMEOUT_SECS)
        );
        assert_eq!(g.notes().len(), 2, "{:?}", g.notes());
        // More than the rebuilder allows: its limit; less: what was asked.
        let mut b = recorded();
        b.memory_bytes = u64::MAX;
        let policy = Policy {
            max_timeout_secs: 60,
            ..Policy::default()
        };
        let g = apply(&mut b, &policy).unwrap();
        assert_eq!((g.memory_bytes, g.timeout_secs), (DEFAULT_MAX_MEMORY_BYTES, 60));
        assert_eq!(g.requested_timeout_secs, 600);
        let mut b = recorded();
        let g = apply(&mut b, &Policy::default()).unwrap();
        assert_eq!((g.memory_bytes, g.timeout_secs), (1 << 30, 600));
        assert!(g.notes().is_empty());
        assert_eq!(g.control_user, ControlUser::Builder);
    }

    #[test]
    fn paths_globs_and_names_are_refused_naming_the_field() {
        type Tamper = fn(&mut BuildDef);
        let cases: [(&str, Tamper); 4] = [
            ("control_path", |b| {
                b.control_path = Some("/../../../../home/x".into())
            }),
            ("outputs[0]", |b| b.outputs = vec!["/etc/hostname".into()]),
            ("exclude_outputs[0]", |b| {
                b.exclude_outputs = vec!["out/../../x".into()]
            }),
            ("env", |b| {
                b.env.insert("X=1; cmd; Y".into(), "v".into());
            }),
        ];
        for (field, tamper) in cases {
            let mut b = recorded();
            tamper(&mut b);
            let e = apply(&mut b, &Policy::default()).unwrap_err();
            assert_eq!(e.field, format!("{BUILD_FIELD}.{field}"), "{e}");
        }
    }
}
