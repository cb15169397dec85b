//! Which of the engine's repro containers are leftovers, judged by what the engine knows: the
//! deadline label every container carries, its state, and — only for containers this host
//! made, in this PID namespace — whether the process that made them still exists. A repro on
//! another host (or in another container) sharing the engine never has its live runs removed.

use std::collections::HashMap;

use sha2::{Digest, Sha256};

/// Label on every container repro creates.
pub const LABEL_MANAGED: &str = "dev.repro.managed";
/// Label holding the creating process's pid (meaningful only where [`LABEL_HOST`] matches).
pub const LABEL_PID: &str = "dev.repro.pid";
/// Label naming the check a container belongs to.
pub const LABEL_CHECK: &str = "dev.repro.check";
/// Label naming where the pid means something: the kernel boot and PID namespace of the
/// creating process ([`host_id`]).
pub const LABEL_HOST: &str = "dev.repro.host";
/// Label holding the time (seconds since the epoch, the creating host's clock) by which the
/// container has stopped by itself: its lifetime plus the time allowed for its upload.
pub const LABEL_DEADLINE: &str = "dev.repro.deadline";

/// How long after its deadline a container still running is left alone: clocks of hosts
/// sharing an engine may differ this much.
pub const CLOCK_SKEW_SECS: i64 = 300;
/// Containers of repro versions before the deadline label: removed when older than this…
pub const LEGACY_MAX_AGE_SECS: i64 = 24 * 3600;
/// …or once stopped and older than this (those versions read a stopped container's outputs
/// before removing it, so a stopped one may still be in use for a while).
pub const LEGACY_STOPPED_AGE_SECS: i64 = 3600;

/// What repro needs to know about one of its containers.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    pub labels: HashMap<String, String>,
    /// The engine's state: `created`, `running`, `exited`, `dead`, …
    pub state: String,
    /// When the engine created it (seconds since the epoch, the engine's clock).
    pub created: i64,
}

/// Why a container is a leftover, or `None` when it may belong to a live run.
pub fn judge(
    facts: &Facts,
    here: Option<&str>,
    now: i64,
    alive: impl Fn(u32) -> bool,
) -> Option<&'static str> {
    let label = |k: &str| facts.labels.get(k).map(String::as_str);
    let stopped = matches!(facts.state.as_str(), "exited" | "dead");
    let Some(deadline) = label(LABEL_DEADLINE).and_then(|d| d.parse::<i64>().ok()) else {
        let age = now.saturating_sub(facts.created);
        if stopped && age > LEGACY_STOPPED_AGE_SECS {
            return Some("stopped an hour ago or more (made by an older repro)");
        }
        return (age > LEGACY_MAX_AGE_SECS).then_some("older than a day (made by an older repro)");
    };
    // The container's main process only ends at its deadline or when it is killed: a stopped
    // container holds nothing a run still needs.
    if stopped {
        return Some("stopped");
    }
    let slack = if facts.state == "running" {
        CLOCK_SKEW_SECS
    } else {
        0
    };
    if now > deadline.saturating_add(slack) {
        return Some("past its deadline");
    }
    let ours = here.is_some() && label(LABEL_HOST) == here;
    let pid = label(LABEL_PID).and_then(|p| p.parse::<u32>().ok());
    match pid {
        Some(pid) if ours && !alive(pid) => Some("its repro process is gone"),
        _ => None,
    }
}

/// Where this process's pids mean something: its kernel boot and PID namespace, hashed. Two
/// repro processes with the same pid in different containers or on different hosts get
/// different ids. `None` when either cannot be read (then no container counts as ours).
pub fn host_id() -> Option<String> {
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
    let pid_ns = std::fs::read_link("/proc/self/ns/pid").ok()?;
    Some(id_of(boot.trim(), &pid_ns.display().to_string()))
}

fn id_of(boot: &str, pid_ns: &str) -> String {
    let digest = Sha256::digest(format!("{boot}\n{pid_ns}").as_bytes());
    hex::encode(&digest[..8])
}

/// Whether a process of this PID namespace has that pid.
pub fn pid_alive(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// The labels of a container this process creates for `check_id`, stopping itself by
/// `deadline`.
pub fn labels(check_id: &str, deadline: i64) -> HashMap<String, String> {
    let mut labels = HashMap::from([
        (LABEL_MANAGED.to_string(), "1".to_string()),
        (LABEL_PID.to_string(), std::process::id().to_string()),
        (LABEL_CHECK.to_string(), check_id.to_string()),
        (LABEL_DEADLINE.to_string(), deadline.to_string()),
    ]);
    if let Some(host) = host_id() {
        labels.insert(LABEL_HOST.to_string(), host);
    }
    labels
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(state: &str, labels: &[(&str, &str)]) -> Facts {
        Facts {
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            state: state.into(),
            created: 1_000,
        }
    }

    #[test]
    fn live_runs_of_other_hosts_are_kept_whatever_their_pid() {
        let here = Some("aaaa");
        let dead = |_| false;
        let foreign = facts(
            "running",
            &[(LABEL_HOST, "bbbb"), (LABEL_PID, "1"), (LABEL_DEADLINE, "5000")],
        );
        assert_eq!(judge(&foreign, here, 4_000, dead), None);
        // Being uploaded to: created, not started yet.
        let uploading = Facts {
            state: "created".into(),
            ..foreign.clone()
        };
        assert_eq!(judge(&uploading, here, 4_000, dead), None);
        // Past the deadline, a running one gets the clock slack, a created one does not.
        assert_eq!(judge(&foreign, here, 5_000 + CLOCK_SKEW_SECS, dead), None);
        assert!(judge(&foreign, here, 5_001 + CLOCK_SKEW_SECS, dead).is_some());
        assert!(judge(&uploading, here, 5_001, dead).is_some());
        // No host id here: nothing counts as ours.
        let unlabelled = facts("running", &[(LABEL_PID, "1"), (LABEL_DEADLINE, "5000")]);
        assert_eq!(judge(&unlabelled, None, 4_000, dead), None);
    }

    #[test]
    fn this_hosts_dead_runs_and_stopped_containers_go_at_once() {
        let here = Some("aaaa");
        let mine = facts(
            "running",
            &[(LABEL_HOST, "aaaa"), (LABEL_PID, "42"), (LABEL_DEADLINE, "5000")],
        );
        assert_eq!(judge(&mine, here, 4_000, |p| p == 42), None);
        assert_eq!(
            judge(&mine, here, 4_000, |_| false),
            Some("its repro process is gone")
        );
        let stopped = Facts {
            state: "exited".into(),
            ..mine
        };
        assert_eq!(judge(&stopped, here, 4_000, |_| true), Some("stopped"));
    }

    #[test]
    fn containers_of_older_versions_go_when_stopped_or_old() {
        let legacy = facts("running", &[(LABEL_PID, "42")]);
        assert_eq!(judge(&legacy, Some("aaaa"), 2_000, |_| false), None);
        assert!(judge(&legacy, Some("aaaa"), 1_001 + LEGACY_MAX_AGE_SECS, |_| true).is_some());
        let stopped = Facts {
            state: "exited".into(),
            ..legacy
        };
        // Possibly still being read by the older repro that made it.
        assert_eq!(judge(&stopped, None, 2_000, |_| true), None);
        assert!(judge(&stopped, None, 1_001 + LEGACY_STOPPED_AGE_SECS, |_| true).is_some());
        // A deadline that does not parse is no deadline.
        let garbled = facts("running", &[(LABEL_DEADLINE, "soon")]);
        assert_eq!(judge(&garbled, None, 2_000, |_| false), None);
    }

    #[test]
    fn host_ids_differ_by_boot_and_pid_namespace() {
        let a = id_of("boot-1", "pid:[4026531836]");
        assert_eq!(a.len(), 16);
        assert_ne!(a, id_of("boot-2", "pid:[4026531836]"));
        assert_ne!(a, id_of("boot-1", "pid:[4026532001]"));
        assert!(host_id().is_some());
    }
}
