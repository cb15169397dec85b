//! Directory comparison: entries only on one side, type, mode and symlink-target changes, and
//! file contents sent back through the engine in parallel. Symlinks are never followed, and
//! special files (FIFOs, devices, sockets) are never opened.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::fs::Metadata;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use super::{Change, Comparator, CompareError, Context, Format, Node, Pair, Source, Status};

pub struct DirComparator;

impl Comparator for DirComparator {
    fn name(&self) -> &'static str {
        "directory"
    }

    fn formats(&self) -> &'static [Format] {
        &[Format::Directory]
    }

    fn compare(&self, cx: &Context<'_>, a: &Source, b: &Source, node: &mut Node) -> Result<(), CompareError> {
        let (Source::Directory(pa), Source::Directory(pb)) = (a, b) else {
            return Err(CompareError::malformed(
                "directory",
                "not a directory on both sides",
            ));
        };
        let mut walk = Walk {
            cx,
            pairs: Vec::new(),
            meta_changes: Vec::new(),
            nodes: Vec::new(),
            entries: 0,
            identical_meta: 0,
        };
        walk.dir(pa, pb, "")?;
        let Walk {
            pairs,
            meta_changes,
            mut nodes,
            identical_meta,
            ..
        } = walk;
        let mut contents = Node::new(String::new());
        let names: Vec<String> = pairs.iter().map(|p| p.name.clone()).collect();
        cx.compare_many(pairs, &mut contents);
        // Metadata changes (mode) join the content node of the same entry.
        let mut by_name: std::collections::BTreeMap<String, Node> = contents
            .children
            .into_iter()
            .map(|n| (n.name.clone(), n))
            .collect();
        for (name, changes) in meta_changes {
            let n = by_name.entry(name.clone()).or_insert_with(|| Node::new(name));
            n.changes.splice(0..0, changes);
        }
        let changed_files = by_name.len() as u64;
        nodes.extend(by_name.into_values());
        nodes.sort_by(|x, y| x.name.cmp(&y.name));
        node.children = nodes;
        node.identical_members = (names.len() as u64).saturating_sub(changed_files) + identical_meta;
        Ok(())
    }
}

struct Walk<'a, 'e> {
    cx: &'a Context<'e>,
    pairs: Vec<Pair>,
    meta_changes: Vec<(String, Vec<Change>)>,
    nodes: Vec<Node>,
    entries: u64,
    identical_meta: u64,
}

fn kind(m: &Metadata) -> &'static str {
    let t = m.file_type();
    if t.is_symlink() {
        "symlink"
    } else if t.is_dir() {
        "directory"
    } else if t.is_file() {
        "file"
    } else if t.is_fifo() {
        "fifo"
    } else if t.is_socket() {
        "socket"
    } else if t.is_block_device() {
        "block-device"
    } else if t.is_char_device() {
        "char-device"
    } else {
        "unknown"
    }
}

fn mode(m: &Metadata) -> String {
    format!("{:04o}", m.mode() & 0o7777)
}

/// The entries of `dir` by their names as bytes: two names that differ only in bytes that are
/// not UTF-8 stay two entries.
fn list(dir: &Path) -> std::io::Result<BTreeSet<OsString>> {
    let mut names = BTreeSet::new();
    for entry in fs_err::read_dir(dir)? {
        names.insert(entry?.file_name());
    }
    Ok(names)
}

impl Walk<'_, '_> {
    fn dir(&mut self, pa: &Path, pb: &Path, rel: &str) -> Result<(), CompareError> {
        self.cx.check_time()?;
        let (la, lb) = match (list(pa), list(pb)) {
            (Ok(a), Ok(b)) => (a, b),
            (Err(e), _) | (_, Err(e)) => {
                let name = if rel.is_empty() {
                    ".".to_string()
                } else {
                    rel.to_string()
                };
                self.cx.error(&name, &e);
                let mut n = Node::new(name);
                n.changes.push(Change::note(format!("could not be listed: {e}")));
                self.nodes.push(n);
                return Ok(());
            }
        };
        for name in la.union(&lb) {
            self.entries += 1;
            if self.entries > self.cx.options().max_entries {
                return Err(CompareError::Budget(format!(
                    "more than {} entries",
                    self.cx.options().max_entries
                )));
            }
            // Shown names are injective, so the joined path still tells entries apart.
            let shown = crate::escape::os_name(name);
            let relname = if rel.is_empty() {
                shown
            } else {
                format!("{rel}/{shown}")
            };
            if self.cx.excluded(&relname) {
                continue;
            }
            let (ea, eb) = (pa.join(name), pb.join(name));
            let (ma, mb) = (
                fs_err::symlink_metadata(&ea).ok(),
                fs_err::symlink_metadata(&eb).ok(),
            );
            match (ma, mb) {
                (Some(ma), Some(mb)) => self.entry(&ea, &eb, &ma, &mb, relname)?,
                (Some(m), None) => self.nodes.push(one_side(relname, &m, Status::Removed)),
                (None, Some(m)) => self.nodes.push(one_side(relname, &m, Status::Added)),
                (None, None) => {
                    // Listed a moment ago, gone on both sides now: say so rather than skip it.
                    let mut n = Node::new(relname);
                    n.changes.push(Change::note(
                        "listed, but vanished on both sides before it was compared",
                    ));
                    self.nodes.push(n);
                }
            }
        }
        Ok(())
    }

    fn entry(
        &mut self,
        ea: &Path,
        eb: &Path,
        ma: &Metadata,
        mb: &Metadata,
        rel: String,
    ) -> Result<(), CompareError> {
        let (ka, kb) = (kind(ma), kind(mb));
        if ka != kb {
            let mut n = Node::new(rel);
            n.changes.push(Change::field("type", ka, kb));
            self.nodes.push(n);
            return Ok(());
        }
        let mut changes = Vec::new();
        if ka != "symlink" && mode(ma) != mode(mb) {
            changes.push(Change::field("mode", mode(ma), mode(mb)));
        }
        match ka {
            "directory" => {
                self.dir(ea, eb, &rel)?;
            }
            "file" => {
                self.pairs.push(Pair {
                    name: rel.clone(),
                    a: Source::File(ea.to_path_buf()),
                    b: Source::File(eb.to_path_buf()),
                });
            }
            "symlink" => {
                let (ta, tb) = (fs_err::read_link(ea).ok(), fs_err::read_link(eb).ok());
                if ta != tb {
                    let show =
                        |t: Option<std::path::PathBuf>| t.map(|t| crate::escape::os_name(t.as_os_str()));
                    changes.push(Change::optional_field("symlink-target", show(ta), show(tb)));
                }
            }
            _ => {
                if ma.rdev() != mb.rdev() {
                    changes.push(Change::field("device", ma.rdev(), mb.rdev()));
                }
            }
        }
        if changes.is_empty() {
            if ka != "file" {
                self.identical_meta += 1;
            }
        } else {
            self.meta_changes.push((rel, changes));
        }
        Ok(())
    }
}

fn one_side(rel: String, m: &Metadata, status: Status) -> Node {
    let mut n = Node::new(rel);
    n.status = status;
    let (k, size) = (kind(m), m.len().to_string());
    let (a, b) = match status {
        Status::Removed => (Some(k.to_string()), None),
        _ => (None, Some(k.to_string())),
    };
    n.changes.push(Change::optional_field("type", a, b));
    if k == "file" {
        let (a, b) = match status {
            Status::Removed => (Some(size), None),
            _ => (None, Some(size)),
        };
        n.changes.push(Change::optional_field("size", a, b));
    }
    n
}
