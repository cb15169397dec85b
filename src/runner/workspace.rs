//! What a run's container is given: the source snapshot as a tar in the run's file order, and
//! the upload archive around it (passwd/group entries for the run's user, home and output
//! directories owned by that user, the entry script and its configuration).

use std::io::{self, Write};
use std::path::Path;

use crate::plan::RunSpec;
use crate::source::{SourceError, read_err};

/// The entry script every build container runs.
pub const ENTRY_SCRIPT: &str = include_str!("entry.sh");
/// Where the runner puts its files inside the container.
pub const REPRO_DIR: &str = "/repro";
/// Plain (non-tmpfs) directory the entry script copies outputs to.
pub const OUT_DIR: &str = "/out";

pub use crate::plan::sh_quote;

/// `/etc/passwd` and `/etc/group` of the image, plus the run's user (with all capabilities
/// dropped, nothing can add users at run time).
pub fn user_files(spec: &RunSpec, image_passwd: &str, image_group: &str) -> (String, String) {
    let u = &spec.user;
    let keep = |text: &str, id: u32| {
        text.lines()
            .filter(|l| {
                let mut f = l.split(':');
                let name = f.next().unwrap_or("");
                let num = f.nth(1).and_then(|n| n.parse::<u32>().ok());
                name != u.name && num != Some(id)
            })
            .map(|l| format!("{l}\n"))
            .collect::<String>()
    };
    let mut passwd = keep(image_passwd, u.uid);
    passwd.push_str(&format!(
        "{}:x:{}:{}:repro build user:{}:/bin/sh\n",
        u.name, u.uid, u.gid, spec.home
    ));
    let mut group = keep(image_group, u.gid);
    group.push_str(&format!("{}:x:{}:\n", u.name, u.gid));
    (passwd, group)
}

/// The configuration files the entry script reads.
pub fn run_files(spec: &RunSpec, output_globs: &[String]) -> Vec<(String, String)> {
    let conf = format!(
        "REPRO_BUILD_PATH={}\nREPRO_UMASK={}\nREPRO_TIMEOUT={}\n",
        sh_quote(&spec.build_path),
        sh_quote(&spec.umask),
        spec.timeout_secs.max(1)
    );
    let env: String = spec
        .env
        .iter()
        .map(|(k, v)| format!("export {k}={}\n", sh_quote(v)))
        .collect();
    let globs: String = output_globs.iter().map(|g| format!("{g}\n")).collect();
    vec![
        ("run.conf".into(), conf),
        ("build.env".into(), env),
        ("outputs.globs".into(), globs),
        ("entry.sh".into(), ENTRY_SCRIPT.into()),
    ]
}

/// Writes the archive uploaded to `/` of the container before it starts.
pub fn write_upload_tar(
    spec: &RunSpec,
    passwd_group: (&str, &str),
    output_globs: &[String],
    source_tar: &Path,
    out: impl Write,
) -> Result<(), SourceError> {
    let mut b = tar::Builder::new(out);
    let (uid, gid) = (u64::from(spec.user.uid), u64::from(spec.user.gid));
    let mtime = u64::try_from(spec.source_date_epoch).unwrap_or(0);
    let dir = |b: &mut tar::Builder<_>, path: &str, owner: (u64, u64), mode: u32| -> io::Result<()> {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_mode(mode);
        h.set_uid(owner.0);
        h.set_gid(owner.1);
        h.set_mtime(mtime);
        h.set_size(0);
        b.append_data(&mut h, path.trim_start_matches('/'), io::empty())
    };
    let file = |b: &mut tar::Builder<_>, path: &str, data: &[u8], mode: u32| -> io::Result<()> {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_mode(mode);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(mtime);
        h.set_size(data.len() as u64);
        b.append_data(&mut h, path.trim_start_matches('/'), data)
    };
    let (passwd, group) = passwd_group;
    file(&mut b, "/etc/passwd", passwd.as_bytes(), 0o644)?;
    file(&mut b, "/etc/group", group.as_bytes(), 0o644)?;
    dir(&mut b, REPRO_DIR, (0, 0), 0o755)?;
    for (name, text) in run_files(spec, output_globs) {
        file(&mut b, &format!("{REPRO_DIR}/{name}"), text.as_bytes(), 0o644)?;
    }
    let mut h = tar::Header::new_gnu();
    h.set_metadata_in_mode(
        &std::fs::metadata(source_tar).map_err(read_err(source_tar))?,
        tar::HeaderMode::Deterministic,
    );
    h.set_mode(0o644);
    let f = std::fs::File::open(source_tar).map_err(read_err(source_tar))?;
    b.append_data(&mut h, "repro/source.tar", f)?;
    for d in parents_and_self(&spec.home) {
        let owned = d == spec.home;
        dir(&mut b, &d, if owned { (uid, gid) } else { (0, 0) }, 0o755)?;
    }
    dir(&mut b, OUT_DIR, (uid, gid), 0o755)?;
    for extra in &spec.extra_path_dirs {
        for d in parents_and_self(extra) {
            dir(&mut b, &d, (0, 0), 0o755)?;
        }
    }
    b.finish()?;
    Ok(())
}

/// `/a/b/c` → `/a`, `/a/b`, `/a/b/c` (without `/`).
fn parents_and_self(path: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for part in path.split('/').filter(|p| !p.is_empty()) {
        cur.push('/');
        cur.push_str(part);
        out.push(cur.clone());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_and_user_files() {
        assert_eq!(sh_quote("it's"), r"'it'\''s'");
        let plan = crate::plan::Plan::new(
            crate::recipe::parse_project("t", "[build]\ncommand=[\"make\"]\n").unwrap(),
            1,
            2,
            crate::plan::select(&[], &[]),
            2,
        );
        let spec = &plan.runs[1];
        let (passwd, group) = user_files(
            spec,
            "root:x:0:0:root:/root:/bin/bash\nold:x:2000:2000::/x:/bin/sh\n",
            "root:x:0:\n",
        );
        assert!(passwd.starts_with("root:x:0:0"));
        assert!(!passwd.contains("old:"), "{passwd}");
        assert!(
            passwd.ends_with("rebuilder:x:2000:2000:repro build user:/var/tmp/home-b:/bin/sh\n"),
            "{passwd}"
        );
        assert!(group.ends_with("rebuilder:x:2000:\n"));
        let files = run_files(spec, &["out/*".into()]);
        let env = &files.iter().find(|(n, _)| n == "build.env").unwrap().1;
        assert!(env.contains("export TZ='Etc/GMT-14'\n"), "{env}");
    }

    #[test]
    fn entry_script_is_valid_sh() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("entry.sh"), ENTRY_SCRIPT).unwrap();
        let ok = std::process::Command::new("sh")
            .arg("-n")
            .arg(d.path().join("entry.sh"))
            .status()
            .unwrap()
            .success();
        assert!(ok);
    }
}
