//! Entry contents: recognised as identical from the stored bytes where possible (no
//! decompression), otherwise decompressed within the budgets and, when the decompressed bytes
//! differ, sent back through the engine so nested formats are compared all the way down.

use std::sync::atomic::{AtomicBool, Ordering};

use super::super::binary::BinaryComparator;
use super::super::{Change, Comparator, CompareError, Context, Fallback, Node, Side as Input, Source};
use super::archive::{Archive, Entry, Handle};

/// One side's share of its input's expansion budget (`Context::charge`), as the workers
/// decompressing this archive's entries use it: a refusal is remembered so the archive can
/// say so once.
pub(super) struct Budget {
    side: Input,
    spent: AtomicBool,
}

impl Budget {
    pub(super) fn new(side: Input) -> Self {
        Budget {
            side,
            spent: AtomicBool::new(false),
        }
    }

    /// Counts `n` decompressed bytes against the input's budget.
    fn take(&self, cx: &Context<'_>, n: u64) -> Result<(), CompareError> {
        cx.charge(self.side, n)
            .inspect_err(|_| self.spent.store(true, Ordering::Relaxed))
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
    if let Err(e) = cx
        .check_time()
        .and_then(|()| a.budget.take(cx, ea.size))
        .and_then(|()| b.budget.take(cx, eb.size))
    {
        return over_budget(cx, name, (sa, sb), e);
    }
    let (ha, hb) = (a.handle, b.handle);
    let stop = || cx.out_of_time();
    let (ra, rb) = rayon::join(
        || Archive::decompress(ha, ea, limit, &stop),
        || Archive::decompress(hb, eb, limit, &stop),
    );
    // Past the time budget, what was decoded in flight is not compared further either.
    if let Err(e) = cx.check_time() {
        return over_budget(cx, name, (sa, sb), e);
    }
    // The declared size is only a hint: whatever came out beyond it counts too.
    let beyond = |r: &Result<Vec<u8>, String>, e: &Entry| {
        r.as_ref().map_or(0, |v| (v.len() as u64).saturating_sub(e.size))
    };
    if let Err(e) = a
        .budget
        .take(cx, beyond(&ra, ea))
        .and_then(|()| b.budget.take(cx, beyond(&rb, eb)))
    {
        return over_budget(cx, name, (sa, sb), e);
    }
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

/// The entry's node when a budget (its input's expansion budget, the time budget) is spent:
/// the stored bytes compared as bytes, with the reason as a visible fallback.
fn over_budget(cx: &Context<'_>, name: &str, (sa, sb): (&[u8], &[u8]), e: CompareError) -> Outcome {
    let mut n = Node::new(name);
    let budget = if cx.out_of_time() { "time" } else { "expansion" };
    n.changes.push(Change::note(format!(
        "content not decompressed: the {budget} budget is spent"
    )));
    n.fallback = Some(Fallback {
        from: "zip".into(),
        to: "binary".into(),
        reason: format!("{e}; the stored (compressed) bytes are compared"),
    });
    let (xa, xb) = (Source::memory(sa.to_vec()), Source::memory(sb.to_vec()));
    if let Err(e) = BinaryComparator.compare(cx, &xa, &xb, &mut n) {
        n.changes
            .push(Change::note(format!("could not be compared: {e}")));
    }
    Outcome {
        notes: Vec::new(),
        node: Some(n),
    }
}

fn differing(n: Node) -> Option<Node> {
    (!n.is_empty()).then_some(n)
}
