//! Entry contents: recognised as identical from the stored bytes where possible (no
//! decompression), otherwise decompressed within the budgets and, when the decompressed bytes
//! differ, sent back through the engine so nested formats are compared all the way down.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use super::super::{Change, Context, Node, Source};
use super::archive::{Archive, Entry, Handle};

/// Bytes one archive may still expand to (`Options::max_expanded_bytes`), shared by the
/// workers decompressing its entries.
pub(super) struct Budget {
    left: AtomicU64,
    spent: AtomicBool,
}

impl Budget {
    pub(super) fn new(bytes: u64) -> Self {
        Budget {
            left: AtomicU64::new(bytes),
            spent: AtomicBool::new(false),
        }
    }

    /// Reserves `n` bytes; a refusal is remembered so the archive can say so once.
    fn take(&self, n: u64) -> bool {
        let ok = self
            .left
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| left.checked_sub(n))
            .is_ok();
        if !ok {
            self.spent.store(true, Ordering::Relaxed);
        }
        ok
    }

    /// Whether some entry was left undecompressed because the budget ran out.
    pub(super) fn spent(&self) -> bool {
        self.spent.load(Ordering::Relaxed)
    }
}

/// One side of an entry comparison: the archive, its entry, a worker's own handle, the budget.
pub(super) struct Side<'s> {
    pub archive: &'s Archive,
    pub entry: &'s Entry,
    pub handle: &'s mut Handle,
    pub budget: &'s Budget,
}

/// What comparing two entries' contents found: notes for the entry, and the content's own
/// difference node when the contents differ.
#[derive(Default)]
pub(super) struct Outcome {
    pub notes: Vec<Change>,
    pub node: Option<Node>,
}

impl Outcome {
    fn note(text: impl Into<String>) -> Self {
        Outcome {
            notes: vec![Change::note(text)],
            node: None,
        }
    }
}

/// Compares the contents of two entries of the same name, shown as `name`.
pub(super) fn compare(cx: &Context<'_>, name: &str, a: Side<'_>, b: Side<'_>) -> Outcome {
    let (ea, eb) = (a.entry, b.entry);
    let (Some(sa), Some(sb)) = (a.archive.data(ea), b.archive.data(eb)) else {
        let mut out = Outcome::default();
        for (side, archive, e) in [("a", a.archive, ea), ("b", b.archive, eb)] {
            if archive.data(e).is_none() {
                let why = match &e.local {
                    Err(why) => why.clone(),
                    Ok(_) => "the stored data runs past the end of the archive".into(),
                };
                out.notes
                    .push(Change::note(format!("content not compared: {side}: {why}")));
            }
        }
        return out;
    };
    let same_coding = ea.central.method == eb.central.method && ea.encrypted == eb.encrypted;
    if same_coding && sa == sb {
        // The same bytes decoded the same way: the contents are identical, whatever the
        // headers say about them (any header difference is reported as a field).
        return Outcome::default();
    }
    if ea.encrypted || eb.encrypted {
        let mut out = Outcome::note("encrypted: the stored (encrypted) bytes are compared, not the content");
        out.node = differing(cx.compare(name, &Source::memory(sa.to_vec()), &Source::memory(sb.to_vec())));
        return out;
    }
    let limit = cx.options().max_member_bytes;
    let largest = ea.size.max(eb.size);
    if largest > limit {
        return Outcome::note(format!(
            "content not compared: its declared size of {largest} bytes is over the in-memory limit of {limit} bytes"
        ));
    }
    if !a.budget.take(ea.size) || !b.budget.take(eb.size) {
        return Outcome::note(format!(
            "content not compared: the archive's expansion budget of {} bytes is spent",
            cx.options().max_expanded_bytes
        ));
    }
    let (ha, hb) = (a.handle, b.handle);
    let (ra, rb) = rayon::join(
        || Archive::decompress(ha, ea, limit),
        || Archive::decompress(hb, eb, limit),
    );
    match (ra, rb) {
        (Ok(x), Ok(y)) if x == y => {
            if ea.central.method == eb.central.method && ea.compressed_size == eb.compressed_size {
                // Nothing else in the headers explains why the stored bytes differ.
                Outcome::note("the compressed bytes differ, the decompressed content is identical")
            } else {
                Outcome::default()
            }
        }
        (Ok(x), Ok(y)) => Outcome {
            notes: Vec::new(),
            node: differing(cx.compare(name, &Source::memory(x), &Source::memory(y))),
        },
        (Err(x), Err(y)) if x == y => stored_bytes(
            cx,
            name,
            (sa, sb),
            format!("could not be decompressed ({x}): the stored bytes are compared"),
        ),
        (ra, rb) => {
            let mut out = Outcome::default();
            for (side, r) in [("a", ra), ("b", rb)] {
                if let Err(e) = r {
                    out.notes
                        .push(Change::note(format!("{side}: could not be decompressed: {e}")));
                }
            }
            out
        }
    }
}

/// Compares the stored bytes instead of the content (encrypted entries, methods we cannot
/// decode), saying so.
fn stored_bytes(cx: &Context<'_>, name: &str, (sa, sb): (&[u8], &[u8]), note: String) -> Outcome {
    Outcome {
        notes: vec![Change::note(note)],
        node: differing(cx.compare(name, &Source::memory(sa.to_vec()), &Source::memory(sb.to_vec()))),
    }
}

fn differing(n: Node) -> Option<Node> {
    (!n.is_empty()).then_some(n)
}
