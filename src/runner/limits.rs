//! What bounds a container build's writes: its build directory is a tmpfs of the memory limit,
//! and every other place it can write (`/tmp`, `/var/tmp`, `/run/lock`, its home, the output
//! folder) a tmpfs of the disk limit, so nothing it writes reaches the engine's disk. After a
//! failed build, `df` inside the container says which of them it filled.

use std::collections::BTreeMap;

use serde::Serialize;

use super::workspace::OUT_DIR;
use crate::plan::RunSpec;

/// World-writable folders of the images, each given a tmpfs of the disk limit.
pub const SCRATCH: [&str; 3] = ["/tmp", "/var/tmp", "/run/lock"];

/// Which limit sizes a place.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Limit {
    /// `disk` / `--disk`: places outside the build directory.
    Disk,
    /// `memory`: the build directory (a tmpfs counts against the memory limit).
    Memory,
}

impl Limit {
    /// How the user raises it.
    pub fn how_to_raise(self) -> &'static str {
        match self {
            Limit::Disk => "raise it with --disk SIZE or `disk = \"2G\"` in repro.toml",
            Limit::Memory => "raise it with `memory = \"8G\"` in repro.toml",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Limit::Disk => "disk",
            Limit::Memory => "memory",
        }
    }
}

/// A place a build filled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Filled {
    /// Where it is mounted in the container.
    pub path: String,
    pub limit: Limit,
    pub limit_bytes: u64,
}

impl std::fmt::Display for Filled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} is full: the {} limit of {} ({})",
            self.path,
            self.limit.name(),
            size(self.limit_bytes),
            self.limit.how_to_raise()
        )
    }
}

/// `1073741824` → `1 GiB`, `67108864` → `64 MiB`; other sizes in bytes.
pub fn size(bytes: u64) -> String {
    for (unit, shift) in [("TiB", 40), ("GiB", 30), ("MiB", 20), ("KiB", 10)] {
        if bytes >= 1 << shift && bytes.is_multiple_of(1 << shift) {
            return format!("{} {unit}", bytes >> shift);
        }
    }
    format!("{bytes} bytes")
}

/// The tmpfs mounts of a run's container, by path, and which limit sizes each.
pub fn places(spec: &RunSpec) -> BTreeMap<String, (Limit, String)> {
    let disk = spec.disk_bytes;
    let (uid, gid) = (spec.user.uid, spec.user.gid);
    let mut m = BTreeMap::new();
    for p in SCRATCH {
        m.insert(
            p.to_string(),
            (Limit::Disk, format!("rw,exec,nosuid,nodev,mode=1777,size={disk}")),
        );
    }
    m.insert(
        spec.home.clone(),
        (
            Limit::Disk,
            format!("rw,exec,nosuid,nodev,mode=0755,uid={uid},gid={gid},size={disk}"),
        ),
    );
    m.insert(
        OUT_DIR.to_string(),
        (
            Limit::Disk,
            format!("rw,noexec,nosuid,nodev,mode=0755,uid={uid},gid={gid},size={disk}"),
        ),
    );
    // Last: the build directory keeps its own size even where it is one of the others.
    let (path, owner) = build_mount(spec);
    m.insert(
        path,
        (
            Limit::Memory,
            format!("rw,exec,nosuid,nodev,{owner},size={}", spec.memory_bytes),
        ),
    );
    m
}

/// Where the build directory's tmpfs goes, and who owns its root: the build path's first
/// folder (`/build` of `/build/a`), world-writable, so that the entry script makes the build
/// path itself as the run's user with the run's umask (git refuses a work tree owned by
/// another user); a one-folder build path (`/workspace`) is the mount itself, owned by the
/// run's user with the mode its umask gives.
fn build_mount(spec: &RunSpec) -> (String, String) {
    let mut parts = spec.build_path.split('/').filter(|p| !p.is_empty());
    match (parts.next(), parts.next()) {
        (Some(first), Some(_)) => (format!("/{first}"), "mode=1777".into()),
        _ => {
            let umask = u32::from_str_radix(&spec.umask, 8).unwrap_or(0o022);
            let mode = 0o777 & !umask;
            let (uid, gid) = (spec.user.uid, spec.user.gid);
            (
                spec.build_path.clone(),
                format!("mode={mode:04o},uid={uid},gid={gid}"),
            )
        }
    }
}

/// The tmpfs option strings the engine takes.
pub fn tmpfs(spec: &RunSpec) -> std::collections::HashMap<String, String> {
    places(spec).into_iter().map(|(p, (_, opts))| (p, opts)).collect()
}

/// The run's places that are (nearly) full by `df -P -k` (a line that does not parse is
/// skipped); else those a "No space left on device" line of the log names (a write that
/// would not fit at all, such as `fallocate`, leaves the place empty).
pub fn filled(spec: &RunSpec, df: &str, log_tail: &[String]) -> Vec<Filled> {
    let places = places(spec);
    let mut out = full_by_df(spec, &places, df);
    if out.is_empty() {
        for line in log_tail.iter().filter(|l| l.contains("No space left on device")) {
            // The deepest place whose path the line names.
            let named = places
                .iter()
                .filter(|(p, _)| line.contains(&format!("{}/", p.trim_end_matches('/'))))
                .max_by_key(|(p, _)| p.len());
            if let Some((path, (limit, _))) = named
                && !out.iter().any(|x: &Filled| &x.path == path)
            {
                out.push(filled_place(spec, path, *limit));
            }
        }
        // A write refused whole names no place (`fallocate failed: No space left on
        // device`): most likely one of those the disk limit bounds.
        if out.is_empty() && log_tail.iter().any(|l| l.contains("No space left on device")) {
            out.push(filled_place(spec, UNNAMED, Limit::Disk));
        }
    }
    out
}

/// What [`filled`] calls a place the log does not name.
pub const UNNAMED: &str = "a folder outside the build directory (the log says \"No space left on device\")";

fn filled_place(spec: &RunSpec, path: &str, limit: Limit) -> Filled {
    Filled {
        path: path.to_string(),
        limit,
        limit_bytes: match limit {
            Limit::Disk => spec.disk_bytes,
            Limit::Memory => spec.memory_bytes,
        },
    }
}

fn full_by_df(spec: &RunSpec, places: &BTreeMap<String, (Limit, String)>, df: &str) -> Vec<Filled> {
    let mut out = Vec::new();
    for line in df.lines().skip(1) {
        let f: Vec<&str> = line.split_whitespace().collect();
        let [.., blocks, _used, avail, _cap, mount] = f[..] else {
            continue;
        };
        let (Ok(blocks), Ok(avail)) = (blocks.parse::<u64>(), avail.parse::<u64>()) else {
            continue;
        };
        let Some((limit, _)) = places.get(mount) else {
            continue;
        };
        // A write that did not fit leaves the rest unused: full means less than 1% (at least
        // 64 KiB) left.
        let margin = (blocks / 100).max(64);
        if avail < margin && !out.iter().any(|x: &Filled| x.path == mount) {
            out.push(filled_place(spec, mount, *limit));
        }
    }
    out
}

/// The places to ask `df` about.
pub fn df_args(spec: &RunSpec) -> Vec<String> {
    let mut argv = vec!["df".to_string(), "-P".into(), "-k".into()];
    argv.extend(places(spec).into_keys());
    argv
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> RunSpec {
        let plan = crate::plan::Plan::new(
            crate::recipe::parse_project("t", "[build]\ncommand=[\"make\"]\ndisk=\"64M\"\nmemory=\"1G\"\n")
                .unwrap(),
            1,
            2,
            crate::plan::select(&[], &[]),
            2,
        );
        plan.runs[1].clone()
    }

    #[test]
    fn every_writable_place_is_a_sized_tmpfs() {
        let s = spec();
        let t = tmpfs(&s);
        assert_eq!(t["/tmp"], "rw,exec,nosuid,nodev,mode=1777,size=67108864");
        assert_eq!(
            t[&s.home],
            "rw,exec,nosuid,nodev,mode=0755,uid=2000,gid=2000,size=67108864"
        );
        assert!(t["/out"].contains("size=67108864") && t["/out"].contains("noexec"));
        assert_eq!(t["/build"], "rw,exec,nosuid,nodev,mode=1777,size=1073741824");
        assert_eq!(t.len(), 6);
        let mut one = s.clone();
        one.build_path = "/workspace".into();
        assert_eq!(
            tmpfs(&one)["/workspace"],
            "rw,exec,nosuid,nodev,mode=0775,uid=2000,gid=2000,size=1073741824"
        );
    }

    #[test]
    fn df_says_which_place_is_full() {
        let s = spec();
        let df = "Filesystem 1024-blocks Used Available Capacity Mounted on\n\
             tmpfs 65536 65536 0 100% /tmp\n\
             tmpfs 65536 10 65526 1% /var/tmp\n\
             tmpfs 1048576 1048570 6 100% /build\n\
             garbage line\n\
             tmpfs x y z 1% /out\n\
             overlay 100 100 0 100% /\n";
        let full = filled(&s, df, &[]);
        assert_eq!(full.len(), 2, "{full:?}");
        assert_eq!((full[0].path.as_str(), full[0].limit), ("/tmp", Limit::Disk));
        assert_eq!(full[1].limit, Limit::Memory);
        let shown = full[0].to_string();
        assert!(shown.contains("64 MiB") && shown.contains("--disk"), "{shown}");
        assert!(filled(&s, "", &[]).is_empty());
        // Nothing full, but the log says a write did not fit.
        let log = [
            "fallocate: fallocate failed: No space left on device".to_string(),
            format!("fallocate: {}/x: No space left on device", s.home),
            "cp: error writing '/tmp/a': No space left on device".into(),
        ];
        let named: Vec<String> = filled(&s, "", &log).into_iter().map(|f| f.path).collect();
        assert_eq!(named, [s.home.clone(), "/tmp".into()]);
        let unnamed = filled(&s, "", &[log[0].clone()]);
        assert_eq!(
            (unnamed[0].path.as_str(), unnamed[0].limit),
            (UNNAMED, Limit::Disk)
        );
        assert_eq!(size(1 << 30), "1 GiB");
        assert_eq!(size(1000), "1000 bytes");
    }
}
