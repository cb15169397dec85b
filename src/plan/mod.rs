//! The plan: N runs, each a complete, serialisable spec (command, sorted environment, build
//! path, user, hostname, umask, TZ, locale, CPU set, file order, and which variations are on).
//! Run A is the control, run B varies everything that is on, runs 3..N vary again with fresh
//! values; culprit-isolation probes switch on any subset with run B's values.

pub mod variation;

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

pub use variation::{UnknownVariation, Variation, select};

pub use crate::recipe::BuildDef;
use crate::units::unix_time;

/// Order in which the source tree's entries are created in the build directory (tmpfs
/// `readdir` follows creation order, so this is what `file-order` varies).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "order")]
pub enum FileOrder {
    Sorted,
    Reverse,
    Shuffled { seed: u64 },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserSpec {
    pub uid: u32,
    pub gid: u32,
    pub name: String,
}

/// One run, completely specified: a runner needs nothing else (besides the image and source).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunSpec {
    /// `A` (control), `B`, then `3`, `4`, …; probes are `probe-N`.
    pub label: String,
    /// Variations switched on in this run (empty for the control).
    pub variations: BTreeSet<Variation>,
    pub command: Vec<String>,
    /// The whole environment of the build, sorted.
    pub env: BTreeMap<String, String>,
    pub build_path: String,
    pub user: UserSpec,
    pub home: String,
    pub hostname: String,
    pub domainname: String,
    /// Octal, e.g. `0022`.
    pub umask: String,
    /// CPUs the build may use (`None`: all).
    pub cpuset: Option<String>,
    pub file_order: FileOrder,
    pub source_date_epoch: i64,
    /// Directories prepended to PATH that the entry script must create.
    pub extra_path_dirs: Vec<String>,
    pub network: bool,
    pub timeout_secs: u64,
    pub memory_bytes: u64,
    /// Most the run may write outside its build directory (each tmpfs: `/tmp`, `/var/tmp`,
    /// home, outputs).
    #[serde(default = "crate::recipe::default_disk_bytes")]
    pub disk_bytes: u64,
}

/// The control run's label: every variation off, the reference the other runs are compared
/// with.
pub const CONTROL: &str = "A";

impl RunSpec {
    /// Whether this is the control run.
    pub fn is_control(&self) -> bool {
        self.label == CONTROL
    }
}

/// Standard PATH of the builder images.
pub const STANDARD_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// libfaketime's preload library in the builder images.
pub const FAKETIME_LIB: &str = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";
/// The time variation's shift for run B (run k shifts k-1 times as far).
pub const TIME_SHIFT_DAYS: i64 = 397;

/// Everything fixed across the runs of one check.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Plan {
    pub build: BuildDef,
    pub source_date_epoch: i64,
    /// The check's start instant (seconds since the epoch): the control's faked clock.
    pub start_instant: i64,
    /// Variations switched on for runs B..N.
    pub variations: BTreeSet<Variation>,
    pub runs: Vec<RunSpec>,
    /// What repro had to override or could not do (e.g. a project's own RUSTFLAGS).
    pub notes: Vec<String>,
    /// Prefix of every path the plan invents (build paths, homes, extra PATH directories):
    /// empty in containers, a scratch directory for the local backend.
    #[serde(default)]
    pub prefix: String,
    /// What every run gets on top of the build definition (the dependency phase's environment,
    /// arguments and files).
    #[serde(default, skip_serializing_if = "RunExtras::is_empty")]
    pub extras: RunExtras,
}

/// What every run of a plan gets on top of its build definition: the environment and
/// arguments that point the build at the fetched dependencies, and files copied into the build
/// folder before the command (a `Cargo.lock` the fetch phase generated).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunExtras {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// Appended to the command when it runs `tool` directly (`cargo --config …`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<ToolArgs>,
    /// (from, to): `from` an absolute path in the run, `to` relative to the build folder.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub place: Vec<(String, String)>,
}

/// Arguments for one tool, appended when the build command is that tool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolArgs {
    pub tool: String,
    pub args: Vec<String>,
}

impl RunExtras {
    pub fn is_empty(&self) -> bool {
        self.env.is_empty() && self.args.is_empty() && self.place.is_empty()
    }

    /// The command a run executes: the build's, its offline arguments unless the network is
    /// allowed, these arguments when it runs their tool, and the files placed first.
    pub fn command(&self, build: &BuildDef) -> Vec<String> {
        let mut command = build.command.clone();
        if !build.network {
            command.extend(build.offline.args.iter().cloned());
        }
        let tool = command
            .first()
            .map(|c| c.rsplit('/').next().unwrap_or(c).to_string());
        for extra in &self.args {
            if tool.as_deref() == Some(extra.tool.as_str()) {
                command.extend(extra.args.iter().cloned());
            }
        }
        if self.place.is_empty() {
            return command;
        }
        // Copied by a small wrapper, so the build finds them where its tool looks.
        let copies: Vec<String> = self
            .place
            .iter()
            .map(|(from, to)| format!("cp {} {}", sh_quote(from), sh_quote(to)))
            .collect();
        let mut wrapped = vec![
            "sh".to_string(),
            "-c".to_string(),
            format!("{} && exec \"$@\"", copies.join(" && ")),
            "repro-deps".to_string(),
        ];
        wrapped.extend(command);
        wrapped
    }
}

/// Quotes a string for POSIX sh (single quotes, `'\''` for embedded quotes).
pub fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

impl Plan {
    /// Plans `runs` (>= 2) runs: A the control, B and later ones varied.
    pub fn new(
        build: BuildDef,
        source_date_epoch: i64,
        start_instant: i64,
        variations: BTreeSet<Variation>,
        runs: usize,
    ) -> Plan {
        let mut plan = Plan {
            build,
            source_date_epoch,
            start_instant,
            variations,
            runs: Vec::new(),
            notes: Vec::new(),
            prefix: String::new(),
            extras: RunExtras::default(),
        };
        plan.notes = remap_notes(&plan.build);
        plan.runs = plan.make_runs(runs);
        plan
    }

    /// The same plan with `extras` given to every run (made before [`Plan::with_prefix`]).
    pub fn with_extras(mut self, extras: RunExtras) -> Plan {
        self.extras = extras;
        self.runs = self.make_runs(self.runs.len());
        self
    }

    /// The same plan with every invented path under `prefix` (for the local backend).
    pub fn with_prefix(mut self, prefix: &str) -> Plan {
        self.prefix = prefix.trim_end_matches('/').to_string();
        self.runs = self.make_runs(self.runs.len());
        self
    }

    fn make_runs(&self, runs: usize) -> Vec<RunSpec> {
        let plan = self;
        let all = plan.variations.clone();
        (0..runs.max(2))
            .map(|k| {
                let label = match k {
                    0 => CONTROL.to_string(),
                    1 => "B".to_string(),
                    k => (k + 1).to_string(),
                };
                let on = if k == 0 { BTreeSet::new() } else { all.clone() };
                plan.spec(label, &on, k as u32)
            })
            .collect()
    }

    /// The control run (a plan made by [`Plan::new`] always has one).
    pub fn control(&self) -> Option<&RunSpec> {
        self.runs.iter().find(|r| r.is_control())
    }

    /// A culprit-isolation probe: the variations in `on` take run B's values, the rest the
    /// control's.
    pub fn probe(&self, n: usize, on: &BTreeSet<Variation>) -> RunSpec {
        self.spec(format!("probe-{n}"), on, 1)
    }

    /// Builds the spec of one run. `flavor` 0 is the control's values, 1 run B's, k run k+1's.
    fn spec(&self, label: String, on: &BTreeSet<Variation>, flavor: u32) -> RunSpec {
        let v = |var: Variation| if on.contains(&var) { flavor.max(1) } else { 0 };
        let build_path = match v(Variation::BuildPath) {
            0 => format!(
                "{}{}",
                self.prefix,
                self.build.control_path.as_deref().unwrap_or("/build/a")
            ),
            1 => format!("{}/build/b-longer-path/src", self.prefix),
            k => format!("{}/build/run-{}-x/src", self.prefix, k + 1),
        };
        let user = match v(Variation::User) {
            0 if self.build.control_root => UserSpec {
                uid: 0,
                gid: 0,
                name: "root".into(),
            },
            0 => UserSpec {
                uid: 1000,
                gid: 1000,
                name: "builder".into(),
            },
            k => UserSpec {
                uid: 1999 + k,
                gid: 1999 + k,
                name: if k == 1 {
                    "rebuilder".into()
                } else {
                    format!("rebuilder{}", k + 1)
                },
            },
        };
        let home = match v(Variation::Home) {
            0 => format!("{}/home/build", self.prefix),
            k => format!("{}/var/tmp/home-{}", self.prefix, run_suffix(k)),
        };
        let (hostname, domainname) = match v(Variation::Hostname) {
            0 => ("repro-a".to_string(), "example.org".to_string()),
            k => (
                format!("builder-{}-host", run_suffix(k)),
                format!("{}.invalid", run_suffix(k)),
            ),
        };
        let umask = if v(Variation::Umask) == 0 { "0022" } else { "0002" }.to_string();
        let cpuset = (v(Variation::NumCpus) != 0).then(|| "0".to_string());
        let file_order = match v(Variation::FileOrder) {
            0 => FileOrder::Sorted,
            1 => FileOrder::Reverse,
            k => FileOrder::Shuffled { seed: u64::from(k) },
        };
        let mut env: BTreeMap<String, String> = self
            .build
            .env
            .iter()
            .map(|(k, v)| (k.clone(), v.replace("$HOME", &home)))
            .collect();
        if !self.build.network {
            env.extend(self.build.offline.env.clone());
        }
        env.extend(self.extras.env.clone());
        let mut extra_path_dirs = Vec::new();
        let path = match v(Variation::ExecPath) {
            0 => STANDARD_PATH.to_string(),
            k => {
                let dir = format!("{}/opt/repro-extra-{}/bin", self.prefix, run_suffix(k));
                extra_path_dirs.push(dir.clone());
                format!("{dir}:{STANDARD_PATH}")
            }
        };
        let locale = if v(Variation::Locale) == 0 {
            "C.UTF-8"
        } else {
            "fr_CH.UTF-8"
        };
        let tz = match v(Variation::Timezone) {
            0 => "UTC",
            1 => "Etc/GMT-14",
            _ => "Etc/GMT+12",
        };
        let shift = i64::from(v(Variation::Time)) * TIME_SHIFT_DAYS * 86_400;
        // libfaketime reads an absolute start in the process's local time: write the instant in
        // this run's zone, so every run starts at the same instant whatever its TZ.
        let clock = unix_time(
            self.start_instant
                .saturating_add(shift)
                .saturating_add(utc_offset_secs(tz)),
        )
        .replace('T', " ")
        .replace('Z', "");
        env.insert("PATH".into(), path);
        env.insert("HOME".into(), home.clone());
        env.insert("USER".into(), user.name.clone());
        env.insert("LOGNAME".into(), user.name.clone());
        env.insert("LANG".into(), locale.into());
        env.insert("LC_ALL".into(), locale.into());
        env.insert("TZ".into(), tz.into());
        env.insert("SOURCE_DATE_EPOCH".into(), self.source_date_epoch.to_string());
        env.insert("LD_PRELOAD".into(), FAKETIME_LIB.into());
        env.insert("FAKETIME".into(), format!("@{clock}"));
        // Keep monotonic clocks real so timeouts and make's job server behave.
        env.insert("FAKETIME_DONT_FAKE_MONOTONIC".into(), "1".into());
        if v(Variation::Environment) != 0 {
            env.insert(
                "REPRO_EXTRA_VARIABLE".into(),
                format!("varied-{}", run_suffix(v(Variation::Environment))),
            );
        }
        if self.build.remap {
            apply_remap(&mut env, &build_path);
        }
        RunSpec {
            label,
            variations: on.clone(),
            command: self.extras.command(&self.build),
            env,
            build_path,
            user,
            home,
            hostname,
            domainname,
            umask,
            cpuset,
            file_order,
            source_date_epoch: self.source_date_epoch,
            extra_path_dirs,
            network: self.build.network,
            timeout_secs: self.build.timeout_secs,
            memory_bytes: self.build.memory_bytes,
            disk_bytes: self.build.disk_bytes,
        }
    }
}

/// Offset from UTC, in seconds, of the zones the plan uses (`Etc/GMT-14` is UTC+14: POSIX
/// signs are inverted).
fn utc_offset_secs(tz: &str) -> i64 {
    match tz.strip_prefix("Etc/GMT") {
        Some(o) => o.parse::<i64>().map_or(0, |h| -h * 3600),
        None => 0,
    }
}

fn run_suffix(k: u32) -> String {
    if k == 1 {
        "b".to_string()
    } else {
        format!("r{}", k + 1)
    }
}

/// Appends build-path remapping to the usual defaults, never replacing a project's own flags.
fn apply_remap(env: &mut BTreeMap<String, String>, build_path: &str) {
    let map = format!("-ffile-prefix-map={build_path}=.");
    for var in ["CFLAGS", "CXXFLAGS"] {
        let value = match env.get(var) {
            Some(own) => format!("{own} {map}"),
            // Setting CFLAGS replaces autoconf's default `-g -O2`: keep it.
            None => format!("-g -O2 {map}"),
        };
        env.insert(var.into(), value);
    }
    let rust = format!("--remap-path-prefix={build_path}=.");
    let value = match env.get("RUSTFLAGS") {
        Some(own) => format!("{own} {rust}"),
        None => rust,
    };
    env.insert("RUSTFLAGS".into(), value);
    let value = match env.get("GOFLAGS") {
        Some(own) if own.split_whitespace().any(|f| f == "-trimpath") => own.clone(),
        Some(own) => format!("{own} -trimpath"),
        None => "-trimpath".into(),
    };
    env.insert("GOFLAGS".into(), value);
}

fn remap_notes(build: &BuildDef) -> Vec<String> {
    let mut notes = Vec::new();
    if !build.remap {
        notes.push("build-path remapping is off (remap = false)".into());
        return notes;
    }
    for var in ["CFLAGS", "CXXFLAGS", "RUSTFLAGS", "GOFLAGS"] {
        if build.env.contains_key(var) {
            notes.push(format!(
                "{var} is set by the project; repro appended its path remapping to it"
            ));
        }
    }
    notes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def() -> BuildDef {
        BuildDef {
            command: vec!["make".into()],
            outputs: vec!["out/**".into()],
            exclude_outputs: Vec::new(),
            env: [("CARGO_HOME".to_string(), "$HOME/.cargo".to_string())].into(),
            image: "default".into(),
            remap: true,
            network: false,
            timeout_secs: 1800,
            memory_bytes: 4 << 30,
            disk_bytes: 1 << 30,
            origin: "test".into(),
            build_type: "test".into(),
            control_path: None,
            control_root: false,
            with_git: false,
            offline: Default::default(),
        }
    }

    #[test]
    fn control_and_varied_runs_differ_exactly_in_what_is_on() {
        let plan = Plan::new(def(), 1_700_000_000, 1_800_000_000, select(&[], &[]), 3);
        let [a, b, c] = &plan.runs[..] else {
            panic!("three runs")
        };
        assert_eq!(
            (a.label.as_str(), b.label.as_str(), c.label.as_str()),
            ("A", "B", "3")
        );
        assert!(a.variations.is_empty());
        assert_eq!(a.build_path, "/build/a");
        assert_ne!(b.build_path, a.build_path);
        assert_ne!(c.build_path, b.build_path);
        assert_eq!(a.env["CFLAGS"], "-g -O2 -ffile-prefix-map=/build/a=.");
        assert_eq!(a.env["FAKETIME"], "@2027-01-15 08:00:00");
        assert_ne!(a.env["FAKETIME"], b.env["FAKETIME"]);
        // Only the zone varied: the same instant, written in the run's own zone.
        let on: BTreeSet<_> = [Variation::Timezone].into();
        assert_eq!(plan.probe(1, &on).env["FAKETIME"], "@2027-01-15 22:00:00");
        assert_eq!(utc_offset_secs("Etc/GMT+12"), -12 * 3600);
        assert_eq!(a.env["SOURCE_DATE_EPOCH"], b.env["SOURCE_DATE_EPOCH"]);
        assert_eq!(b.cpuset.as_deref(), Some("0"));
        assert_eq!(b.file_order, FileOrder::Reverse);
        assert_eq!(c.file_order, FileOrder::Shuffled { seed: 2 });
        assert!(b.env.contains_key("REPRO_EXTRA_VARIABLE") && !a.env.contains_key("REPRO_EXTRA_VARIABLE"));
        assert!(b.env["PATH"].starts_with("/opt/repro-extra-b/bin:"));
        assert_eq!(b.extra_path_dirs, vec!["/opt/repro-extra-b/bin".to_string()]);
        assert_eq!(a.env["CARGO_HOME"], "/home/build/.cargo");
        assert_eq!(b.env["CARGO_HOME"], "/var/tmp/home-b/.cargo");
    }

    #[test]
    fn a_prefix_moves_every_invented_path() {
        let plan = Plan::new(def(), 1, 2, select(&[], &[]), 2).with_prefix("/tmp/x/");
        let b = &plan.runs[1];
        assert_eq!(plan.runs[0].build_path, "/tmp/x/build/a");
        assert_eq!(b.home, "/tmp/x/var/tmp/home-b");
        assert_eq!(
            b.extra_path_dirs,
            vec!["/tmp/x/opt/repro-extra-b/bin".to_string()]
        );
        assert_eq!(
            b.env["CFLAGS"],
            "-g -O2 -ffile-prefix-map=/tmp/x/build/b-longer-path/src=."
        );
    }

    #[test]
    fn probes_take_run_b_values_for_the_chosen_variations_only() {
        let plan = Plan::new(def(), 1, 2, select(&[], &[]), 2);
        let on: BTreeSet<_> = [Variation::Locale, Variation::Timezone].into();
        let p = plan.probe(1, &on);
        let (a, b) = (&plan.runs[0], &plan.runs[1]);
        assert_eq!(p.env["LC_ALL"], b.env["LC_ALL"]);
        assert_eq!(p.env["TZ"], b.env["TZ"]);
        assert_eq!(p.build_path, a.build_path);
        assert_eq!(p.user, a.user);
        // The control's instant (time not varied), written in the probe's zone (UTC+14).
        assert_eq!(a.env["FAKETIME"], "@1970-01-01 00:00:02");
        assert_eq!(p.env["FAKETIME"], "@1970-01-01 14:00:02");
    }

    #[test]
    fn offline_arguments_go_with_the_network_off_and_dependency_extras_reach_every_run() {
        let mut d = def();
        d.command = vec!["cargo".into(), "build".into()];
        d.offline.args = vec!["--offline".into()];
        d.offline.env.insert("GOPROXY".into(), "off".into());
        let extras = RunExtras {
            env: [("PIP_FIND_LINKS".to_string(), "/deps/python".to_string())].into(),
            args: vec![
                ToolArgs {
                    tool: "cargo".into(),
                    args: vec!["--config".into(), "x=1".into()],
                },
                ToolArgs {
                    tool: "go".into(),
                    args: vec!["-never".into()],
                },
            ],
            place: vec![("/deps/Cargo.lock".into(), "Cargo.lock".into())],
        };
        let plan = Plan::new(d.clone(), 1, 2, select(&[], &[]), 2).with_extras(extras.clone());
        let expected_tail = ["cargo", "build", "--offline", "--config", "x=1"];
        for run in plan.runs.iter().chain([&plan.probe(1, &select(&[], &[]))]) {
            assert_eq!(
                run.command[..3],
                ["sh", "-c", "cp '/deps/Cargo.lock' 'Cargo.lock' && exec \"$@\""]
            );
            assert_eq!(run.command[4..], expected_tail);
            assert_eq!(run.env["PIP_FIND_LINKS"], "/deps/python");
            assert_eq!(run.env["GOPROXY"], "off");
        }
        d.network = true;
        let online = Plan::new(d, 1, 2, select(&[], &[]), 2).with_extras(RunExtras::default());
        assert_eq!(online.runs[0].command, ["cargo", "build"]);
        assert!(!online.runs[0].env.contains_key("GOPROXY"));
    }

    #[test]
    fn remapping_appends_to_project_flags_and_is_noted() {
        let mut d = def();
        d.env.insert("CFLAGS".into(), "-O3".into());
        d.env.insert("GOFLAGS".into(), "-mod=vendor".into());
        let plan = Plan::new(d, 1, 2, select(&[Variation::Time], &[]), 2);
        assert_eq!(plan.runs[0].env["CFLAGS"], "-O3 -ffile-prefix-map=/build/a=.");
        assert_eq!(plan.runs[0].env["GOFLAGS"], "-mod=vendor -trimpath");
        assert!(
            plan.notes
                .iter()
                .any(|n| n.starts_with("CFLAGS is set by the project"))
        );
        // Only time varies: B keeps the control's build path.
        assert_eq!(plan.runs[1].build_path, "/build/a");
        let mut off = def();
        off.remap = false;
        let plan = Plan::new(off, 1, 2, select(&[], &[]), 2);
        assert!(!plan.runs[0].env.contains_key("CFLAGS"));
    }
}
