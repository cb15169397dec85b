//! The variations between runs: a closed set, named in the CLI and the JSON.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// One deliberate difference between the control run and a varied run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Variation {
    Time,
    BuildPath,
    FileOrder,
    Hostname,
    User,
    Umask,
    Locale,
    Timezone,
    Home,
    NumCpus,
    Environment,
    ExecPath,
}

impl Variation {
    /// Every variation, in the order reports list them.
    pub const ALL: [Variation; 12] = [
        Variation::Time,
        Variation::BuildPath,
        Variation::FileOrder,
        Variation::Hostname,
        Variation::User,
        Variation::Umask,
        Variation::Locale,
        Variation::Timezone,
        Variation::Home,
        Variation::NumCpus,
        Variation::Environment,
        Variation::ExecPath,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Variation::Time => "time",
            Variation::BuildPath => "build-path",
            Variation::FileOrder => "file-order",
            Variation::Hostname => "hostname",
            Variation::User => "user",
            Variation::Umask => "umask",
            Variation::Locale => "locale",
            Variation::Timezone => "timezone",
            Variation::Home => "home",
            Variation::NumCpus => "num-cpus",
            Variation::Environment => "environment",
            Variation::ExecPath => "exec-path",
        }
    }
}

impl fmt::Display for Variation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown variation {0:?}; known: {known}", known = Variation::ALL.map(Variation::name).join(", "))]
pub struct UnknownVariation(pub String);

impl FromStr for Variation {
    type Err = UnknownVariation;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s == "aslr" {
            // Named in the design, but not offered: see docs/variations.md.
            return Err(UnknownVariation(format!(
                "{s} (not supported: the engine's default seccomp profile forbids disabling ASLR per container)"
            )));
        }
        Variation::ALL
            .into_iter()
            .find(|v| v.name() == s)
            .ok_or_else(|| UnknownVariation(s.to_string()))
    }
}

/// Which variations are on: all by default, `--vary` keeps only those, `--no-vary` drops those.
pub fn select(vary: &[Variation], no_vary: &[Variation]) -> BTreeSet<Variation> {
    let base: BTreeSet<Variation> = if vary.is_empty() {
        Variation::ALL.into_iter().collect()
    } else {
        vary.iter().copied().collect()
    };
    base.into_iter().filter(|v| !no_vary.contains(v)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_select() {
        for v in Variation::ALL {
            assert_eq!(v.name().parse::<Variation>(), Ok(v));
            assert_eq!(serde_json::to_string(&v).unwrap(), format!("\"{}\"", v.name()));
        }
        assert!(
            "nope"
                .parse::<Variation>()
                .unwrap_err()
                .to_string()
                .contains("build-path")
        );
        assert!(
            "aslr"
                .parse::<Variation>()
                .unwrap_err()
                .to_string()
                .contains("seccomp")
        );
        assert_eq!(select(&[], &[]).len(), 12);
        let s = select(&[Variation::Time, Variation::User], &[Variation::User]);
        assert_eq!(s.into_iter().collect::<Vec<_>>(), vec![Variation::Time]);
    }
}
