//! Structural comparison: the `Comparator` trait, the registry of comparators, and the engine
//! that sniffs formats, recurses through containers, enforces budgets and falls back visibly.

pub mod ar;
pub mod binary;
pub mod compressed;
pub mod cpio;
pub mod dir;
#[cfg(test)]
mod hostile;
pub(crate) mod members;
pub mod object;
pub mod rpm;
pub mod sniff;
pub mod source;
pub mod tar;
pub mod text;
pub mod tree;
pub mod zip;

use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use globset::{Glob, GlobSet, GlobSetBuilder};
use rayon::prelude::*;

pub use sniff::{Format, sniff};
pub use source::{Blob, Codec, Source, SourceError};
pub use tree::{Change, Fallback, Node, Sides, Status};

/// Why a comparator could not finish; the engine then falls back to a simpler comparator and
/// records this as the reason.
#[derive(Debug, thiserror::Error)]
pub enum CompareError {
    #[error("malformed {format}: {detail}")]
    Malformed { format: &'static str, detail: String },
    #[error("{0}")]
    Budget(String),
    #[error("read error: {0}")]
    Io(#[from] std::io::Error),
}

impl CompareError {
    pub fn malformed(format: &'static str, detail: impl ToString) -> Self {
        CompareError::Malformed {
            format,
            detail: detail.to_string(),
        }
    }
}

impl From<SourceError> for CompareError {
    fn from(e: SourceError) -> Self {
        match e {
            SourceError::Io(e) => CompareError::Io(e),
            SourceError::TooLarge { limit } => {
                CompareError::Budget(format!("larger than the in-memory limit of {limit} bytes"))
            }
        }
    }
}

/// Runs a call into a third-party parser, turning a panic there into an error carrying the
/// panic message, so one hostile input cannot end the comparison. Parsers have panicked on
/// hostile headers before (goblin #283, #450, #459, #481); we validate counts and offsets
/// first, so this is the last resort. The default panic hook still prints the panic on
/// stderr: a visible trace of a parser bug is what we want.
pub fn contain<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|payload| {
        payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into())
    })
}

/// A structural comparator for one or more formats. Comparators never print: they fill in the
/// node they are given (changes and children) and send members back through `Context::compare`.
pub trait Comparator: Send + Sync {
    /// Short name used in reports and fallback reasons (`"zip"`, `"elf"`).
    fn name(&self) -> &'static str;
    /// Formats this comparator handles.
    fn formats(&self) -> &'static [Format];
    /// Compares `a` with `b`, which are known to differ (or, for decoded streams, may differ).
    fn compare(&self, cx: &Context<'_>, a: &Source, b: &Source, node: &mut Node) -> Result<(), CompareError>;
}

/// The comparators the engine dispatches to, by format.
pub struct Registry {
    comparators: Vec<Box<dyn Comparator>>,
}

impl Default for Registry {
    /// Every built-in comparator.
    fn default() -> Self {
        let mut r = Registry::empty();
        r.register(Box::new(dir::DirComparator));
        r.register(Box::new(text::TextComparator));
        r.register(Box::new(binary::BinaryComparator));
        r.register(Box::new(zip::ZipComparator));
        object::register(&mut r);
        r.register(Box::new(tar::TarComparator));
        r.register(Box::new(ar::ArComparator));
        r.register(Box::new(cpio::CpioComparator));
        r.register(Box::new(rpm::RpmComparator));
        r.register(Box::new(compressed::CompressedComparator));
        r
    }
}

impl Registry {
    pub fn empty() -> Self {
        Registry {
            comparators: Vec::new(),
        }
    }

    /// Adds a comparator; a later one takes precedence for the formats it handles.
    pub fn register(&mut self, c: Box<dyn Comparator>) {
        self.comparators.insert(0, c);
    }

    pub fn get(&self, format: Format) -> Option<&dyn Comparator> {
        self.comparators
            .iter()
            .find(|c| c.formats().contains(&format))
            .map(|c| c.as_ref())
    }
}

/// The time budget of a comparison unless one is given: long enough for the largest
/// legitimate inputs (10 GB trees take a few minutes), short enough that a hostile one cannot
/// hold a CI job or a rebuilder for good.
pub const DEFAULT_TIME_BUDGET: Duration = Duration::from_secs(600);

/// The deepest nesting followed whatever `Options::max_depth` says: each level holds a few
/// stack frames (comparison, rendering, dropping the tree), so this keeps a hostile input far
/// from the stack's end. Real artifacts nest a handful of levels.
pub const DEPTH_CEILING: usize = 256;

/// Levels of nesting compared on one thread's stack before the comparison continues on a new
/// thread with a stack of `STACK_BYTES` (a level takes a few kilobytes, more unoptimised).
const LEVELS_PER_STACK: usize = 16;
const STACK_BYTES: usize = 8 << 20;

/// Which input a source comes from. Everything decoded from one input — at any depth — is
/// counted against that input's expansion budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    A,
    B,
}

impl Side {
    pub fn name(self) -> &'static str {
        match self {
            Side::A => "a",
            Side::B => "b",
        }
    }

    fn index(self) -> usize {
        match self {
            Side::A => 0,
            Side::B => 1,
        }
    }
}

/// Budgets and switches of one comparison.
#[derive(Debug, Clone)]
pub struct Options {
    /// How many containers deep to recurse (a tar in a gzip in a zip is 3).
    pub max_depth: usize,
    /// Largest member or file held in memory for structural comparison.
    pub max_member_bytes: u64,
    /// Most entries read from one archive or directory.
    pub max_entries: u64,
    /// Most bytes decoded from one input, everything inside it together: decompressed
    /// streams, zip entries, the holes of sparse tar members, at every level of nesting
    /// (zip-bomb guard).
    pub max_expanded_bytes: u64,
    /// Wall-clock budget for the whole comparison; past it, remaining members are compared by
    /// bytes only.
    pub time_budget: Option<Duration>,
    /// Most lines of one text diff kept in the tree.
    pub max_diff_lines: usize,
    /// Largest text compared line by line (larger ones are compared as bytes).
    pub max_text_bytes: u64,
    /// Compute the inputs' sha256 even when they are identical.
    pub digests: bool,
    /// Globs of member paths to leave out.
    pub exclude: Vec<String>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            max_depth: 32,
            max_member_bytes: 512 << 20,
            max_entries: 1_000_000,
            max_expanded_bytes: 16 << 30,
            time_budget: Some(DEFAULT_TIME_BUDGET),
            max_diff_lines: 400,
            max_text_bytes: 32 << 20,
            digests: true,
            exclude: Vec::new(),
        }
    }
}

/// What one comparison of two inputs found.
#[derive(Debug, Clone)]
pub struct Comparison {
    pub a: InputInfo,
    pub b: InputInfo,
    /// The difference tree; `None` when the inputs are identical.
    pub root: Option<Node>,
    /// Paths left out by `--exclude`, as "container ▸ member" strings.
    pub excluded: Vec<String>,
    /// Members or files that could not be read at all (the verdict is then an error).
    pub errors: Vec<String>,
    pub elapsed: Duration,
}

impl Comparison {
    pub fn identical(&self) -> bool {
        self.root.is_none()
    }
}

#[derive(Debug, Clone)]
pub struct InputInfo {
    pub path: String,
    pub sha256: Option<String>,
    pub size: Option<u64>,
    pub format: Format,
}

/// A top-level input could not be compared at all.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("cannot read {path}: {source}")]
    Unreadable { path: String, source: std::io::Error },
    #[error("invalid --exclude pattern {pattern:?}: {source}")]
    BadGlob { pattern: String, source: globset::Error },
}

/// Runs comparisons with one registry and one set of options.
pub struct Engine {
    options: Options,
    registry: Registry,
    exclude: GlobSet,
    deadline: Option<Instant>,
    /// Bytes each input may still expand to (`Options::max_expanded_bytes`), shared by every
    /// decoder working on anything inside it.
    expansion_left: [AtomicU64; 2],
    excluded: Mutex<Vec<String>>,
    errors: Mutex<Vec<String>>,
}

impl Engine {
    pub fn new(options: Options, registry: Registry) -> Result<Self, InputError> {
        let mut b = GlobSetBuilder::new();
        for pattern in &options.exclude {
            let g = Glob::new(pattern).map_err(|source| InputError::BadGlob {
                pattern: pattern.clone(),
                source,
            })?;
            b.add(g);
        }
        let exclude = b.build().map_err(|source| InputError::BadGlob {
            pattern: options.exclude.join(","),
            source,
        })?;
        let left = options.max_expanded_bytes;
        Ok(Engine {
            options,
            registry,
            exclude,
            deadline: None,
            expansion_left: [AtomicU64::new(left), AtomicU64::new(left)],
            excluded: Mutex::new(Vec::new()),
            errors: Mutex::new(Vec::new()),
        })
    }

    pub fn options(&self) -> &Options {
        &self.options
    }

    /// Compares two files or directories.
    pub fn compare_paths(self, a: &Path, b: &Path) -> Result<Comparison, InputError> {
        let (sa, fa) = top_source(a)?;
        let (sb, fb) = top_source(b)?;
        let name = display_name(a, b);
        let mut c = self.compare_sources(&name, &sa, &sb);
        c.a.path = crate::escape::os_name(a.as_os_str());
        c.b.path = crate::escape::os_name(b.as_os_str());
        debug_assert_eq!((c.a.format, c.b.format), (fa, fb));
        Ok(c)
    }

    /// Compares two sources (files, directories, bytes in memory) under one root name.
    pub fn compare_sources(mut self, name: &str, sa: &Source, sb: &Source) -> Comparison {
        let start = Instant::now();
        self.deadline = self.options.time_budget.map(|d| start + d);
        let (fa, fb) = (sniff::sniff_source(sa), sniff::sniff_source(sb));
        let cx = Context {
            engine: &self,
            depth: 0,
            path: vec![name.to_string()],
        };
        let root = cx.compare_sources(name, sa, sb, fa, fb);
        let digestible = |f: Format| self.options.digests && f != Format::Directory;
        let (da, db) = match &root {
            Some(n) => match &n.sha256 {
                Some(s) => (Some(s.a.clone()), Some(s.b.clone())),
                None if digestible(fa) && digestible(fb) => {
                    rayon::join(|| sa.sha256().ok(), || sb.sha256().ok())
                }
                None => (None, None),
            },
            None if digestible(fa) => {
                // Identical bytes: one digest serves both sides.
                let d = sa.sha256().ok();
                (d.clone(), d)
            }
            None => (None, None),
        };
        let info = |s: &Source, f: Format, digest: Option<String>| InputInfo {
            path: s
                .path()
                .map_or_else(|| name.to_string(), |p| crate::escape::os_name(p.as_os_str())),
            sha256: digest,
            size: if f == Format::Directory { None } else { s.size() },
            format: f,
        };
        let (a, b) = (info(sa, fa, da), info(sb, fb, db));
        let mut excluded = self.excluded.into_inner().unwrap_or_else(|e| e.into_inner());
        excluded.sort();
        let mut errors = self.errors.into_inner().unwrap_or_else(|e| e.into_inner());
        errors.sort();
        Comparison {
            a,
            b,
            root,
            excluded,
            errors,
            elapsed: start.elapsed(),
        }
    }
}

fn display_name(a: &Path, b: &Path) -> String {
    let name = |p: &Path| crate::escape::os_name(p.file_name().unwrap_or(p.as_os_str()));
    let (x, y) = (name(a), name(b));
    if x == y { x } else { format!("{x} vs {y}") }
}

fn top_source(p: &Path) -> Result<(Source, Format), InputError> {
    let unreadable = |source| InputError::Unreadable {
        path: crate::escape::os_name(p.as_os_str()),
        source,
    };
    // std::fs here: the error message already names the path.
    let meta = std::fs::metadata(p).map_err(unreadable)?;
    if meta.is_dir() {
        std::fs::read_dir(p).map_err(unreadable)?;
        return Ok((Source::Directory(p.to_path_buf()), Format::Directory));
    }
    if !meta.is_file() {
        return Err(unreadable(std::io::Error::other(
            "not a regular file or directory",
        )));
    }
    let src = Source::File(p.to_path_buf());
    // An unreadable file is an error here, not a binary one.
    src.head(sniff::SNIFF_LEN).map_err(unreadable)?;
    let format = sniff::sniff_source(&src);
    Ok((src, format))
}

/// A comparator's view of the engine at one point of the tree.
pub struct Context<'e> {
    engine: &'e Engine,
    depth: usize,
    path: Vec<String>,
}

/// One pair of members for `Context::compare_many`.
pub struct Pair {
    pub name: String,
    pub a: Source,
    pub b: Source,
}

impl<'e> Context<'e> {
    pub fn options(&self) -> &Options {
        &self.engine.options
    }

    /// Depth of the node being compared (0 for the inputs themselves).
    pub fn depth(&self) -> usize {
        self.depth
    }

    /// Names from the inputs down to the node being compared.
    pub fn path(&self) -> &[String] {
        &self.path
    }

    /// True once the comparison's time budget is spent.
    pub fn out_of_time(&self) -> bool {
        self.engine.deadline.is_some_and(|d| Instant::now() >= d)
    }

    /// Fails with a budget error once the time budget is spent (for comparator loops).
    pub fn check_time(&self) -> Result<(), CompareError> {
        match self.engine.options.time_budget {
            Some(t) if self.out_of_time() => Err(CompareError::Budget(time_spent(t))),
            _ => Ok(()),
        }
    }

    /// Counts `n` more bytes decoded from input `side` (decompressed bytes, a sparse member's
    /// holes, …) against that input's expansion budget, shared by every archive and stream
    /// inside it; fails once the budget would be exceeded. Decoders call this as they produce
    /// bytes, so a bomb stops at the budget however deeply it is nested.
    pub fn charge(&self, side: Side, n: u64) -> Result<(), CompareError> {
        let left = self.engine.expansion_left.get(side.index());
        let ok = left.is_some_and(|left| {
            left.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |l| l.checked_sub(n))
                .is_ok()
        });
        if ok {
            return Ok(());
        }
        Err(CompareError::Budget(format!(
            "expansion budget spent: more than {} bytes decoded from input {}, nested archives \
             and streams included (expansion limit, --max-expanded-size)",
            self.engine.options.max_expanded_bytes,
            side.name()
        )))
    }

    /// Whether `member` (a path inside the container being compared) is excluded; records it.
    pub fn excluded(&self, member: &str) -> bool {
        if self.engine.exclude.is_empty() {
            return false;
        }
        let mut full = self.path.iter().skip(1).map(String::as_str).collect::<Vec<_>>();
        full.push(member);
        let full = full.join("/");
        if self.engine.exclude.is_match(member) || self.engine.exclude.is_match(&full) {
            let mut shown = self.path.clone();
            shown.push(member.to_string());
            lock(&self.engine.excluded).push(shown.join(" ▸ "));
            return true;
        }
        false
    }

    /// Records that a member could not be read at all (an error, not a difference).
    pub fn error(&self, member: &str, message: impl std::fmt::Display) {
        let mut shown = self.path.clone();
        shown.push(member.to_string());
        lock(&self.engine.errors).push(format!("{}: {message}", shown.join(" ▸ ")));
    }

    /// Compares a member pair one level down; returns an empty node when they are identical.
    pub fn compare(&self, name: &str, a: &Source, b: &Source) -> Node {
        if self.depth > 0 && self.depth.is_multiple_of(LEVELS_PER_STACK) {
            // Nesting goes on on a stack of its own, so how deep an input nests does not depend
            // on the stack of the thread that called us (test and async threads have 2 MiB).
            let spawned = std::thread::scope(|s| {
                std::thread::Builder::new()
                    .name("repro-compare".into())
                    .stack_size(STACK_BYTES)
                    .spawn_scoped(s, || self.compare_here(name, a, b))
                    .map(|h| h.join())
            });
            match spawned {
                Ok(Ok(node)) => return node,
                Ok(Err(panic)) => std::panic::resume_unwind(panic),
                // No thread to be had: go on here, within the depth ceiling.
                Err(_) => {}
            }
        }
        self.compare_here(name, a, b)
    }

    fn compare_here(&self, name: &str, a: &Source, b: &Source) -> Node {
        let sniffed = sniff::sniff_source;
        match source::quick_identical(a, b) {
            Ok(Some(true)) => return Node::new(name),
            Ok(_) => {}
            Err(e) => {
                let mut n = Node::new(name);
                self.child(name).read_failure(&mut n, a, b, &e);
                return n;
            }
        }
        let (fa, fb) = (sniffed(a), sniffed(b));
        self.child(name)
            .compare_sources(name, a, b, fa, fb)
            .unwrap_or_else(|| Node::new(name))
    }

    /// Compares many member pairs in parallel, keeping their order; identical ones are dropped
    /// and counted into `node.identical_members`.
    pub fn compare_many(&self, pairs: Vec<Pair>, node: &mut Node) {
        let results: Vec<Node> = pairs
            .par_iter()
            .map(|p| self.compare(&p.name, &p.a, &p.b))
            .collect();
        for r in results {
            if r.is_empty() {
                node.identical_members += 1;
            } else {
                node.children.push(r);
            }
        }
    }

    /// Records that `a`/`b` (the sources of this context's node) could not be read. A file on
    /// disk that cannot be read is an error (the comparison is incomplete); a stream that fails
    /// to decode is a finding about the data, reported in the node.
    fn read_failure(&self, node: &mut Node, a: &Source, b: &Source, e: &dyn std::fmt::Display) {
        let on_disk = |s: &Source| matches!(s, Source::File(_) | Source::Directory(_));
        if on_disk(a) && on_disk(b) {
            lock(&self.engine.errors).push(format!("{}: {e}", self.path.join(" ▸ ")));
            node.changes.push(Change::note(format!("could not be read: {e}")));
        } else {
            node.changes
                .push(Change::note(format!("could not be decoded: {e}")));
        }
    }

    fn child(&self, name: &str) -> Context<'e> {
        let mut path = self.path.clone();
        path.push(name.to_string());
        Context {
            engine: self.engine,
            depth: self.depth + 1,
            path,
        }
    }

    /// Compares two sources of known formats at this context's depth; `None` when identical.
    fn compare_sources(&self, name: &str, a: &Source, b: &Source, fa: Format, fb: Format) -> Option<Node> {
        let cx = self;
        let mut node = Node::new(name);
        if fa != Format::Directory || fb != Format::Directory {
            match source::quick_identical(a, b) {
                Ok(Some(true)) => return None,
                Ok(_) => {}
                Err(e) => {
                    cx.read_failure(&mut node, a, b, &e);
                    return Some(node);
                }
            }
        }
        let binary = binary::BinaryComparator;
        if fa != fb {
            node.changes.push(Change::field("format", fa, fb));
            if fa == Format::Directory || fb == Format::Directory {
                return Some(node);
            }
            run_fallback(cx, &binary, a, b, &mut node);
            return finish(cx, a, b, node);
        }
        let max_depth = self.engine.options.max_depth;
        let limit = if self.depth > max_depth.min(DEPTH_CEILING) {
            Some(if max_depth > DEPTH_CEILING {
                format!(
                    "nested deeper than {DEPTH_CEILING} containers, the most repro follows \
                     whatever --max-depth says"
                )
            } else {
                format!("nested deeper than {max_depth} containers")
            })
        } else if self.out_of_time() {
            Some(time_spent(self.engine.options.time_budget.unwrap_or_default()))
        } else {
            None
        };
        let comparator = self.engine.registry.get(fa);
        match (comparator, limit) {
            (Some(c), None) => {
                node.format = Some(fa.name().to_string());
                if let Err(e) = c.compare(cx, a, b, &mut node) {
                    node.changes.clear();
                    node.children.clear();
                    node.identical_members = 0;
                    node.fallback = Some(Fallback {
                        from: c.name().to_string(),
                        to: "binary".into(),
                        reason: e.to_string(),
                    });
                    run_fallback(cx, &binary, a, b, &mut node);
                }
            }
            (c, reason) => {
                node.format = Some(fa.name().to_string());
                if fa != Format::Binary {
                    node.fallback = Some(Fallback {
                        from: c.map_or(fa.name(), |c| c.name()).to_string(),
                        to: "binary".into(),
                        reason: reason.unwrap_or_else(|| format!("no comparator for {fa}")),
                    });
                }
                run_fallback(cx, &binary, a, b, &mut node);
            }
        }
        if fa == Format::Directory {
            return (!node.is_empty()).then_some(node);
        }
        finish(cx, a, b, node)
    }
}

fn time_spent(budget: Duration) -> String {
    format!(
        "time budget spent: the comparison ran past {}s (--time-budget)",
        budget.as_secs()
    )
}

fn run_fallback(
    cx: &Context<'_>,
    binary: &binary::BinaryComparator,
    a: &Source,
    b: &Source,
    node: &mut Node,
) {
    if let Err(e) = binary.compare(cx, a, b, node) {
        cx.read_failure(node, a, b, &e);
    }
}

/// Fills digests and sizes, and makes sure differing bytes never pass for identical: a
/// structural comparison that found nothing is followed by a byte comparison.
fn finish(cx: &Context<'_>, a: &Source, b: &Source, mut node: Node) -> Option<Node> {
    if node.sha256.is_none() {
        let limit = cx.options().max_expanded_bytes;
        let (x, y) = rayon::join(|| a.sha256_limited(limit), || b.sha256_limited(limit));
        if let (Ok(x), Ok(y)) = (x, y) {
            node.sha256 = Some(Sides::new(x, y));
        }
    }
    if node.size.is_none()
        && let (Some(x), Some(y)) = (a.size(), b.size())
    {
        node.size = Some(Sides::new(x, y));
    }
    let same_digest = node.sha256.as_ref().is_some_and(|d| d.a == d.b);
    if same_digest && node.changes.is_empty() && node.children.is_empty() {
        // Decoded streams that turned out identical.
        return None;
    }
    if node.changes.is_empty() && node.children.is_empty() && !same_digest {
        node.changes.push(Change::note(
            "no structural difference found, but the bytes differ",
        ));
        let _ = binary::BinaryComparator.compare(cx, a, b, &mut node);
    }
    Some(node)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn engine() -> Engine {
        Engine::new(Options::default(), Registry::default()).unwrap()
    }

    fn root(e: &Engine) -> Context<'_> {
        Context {
            engine: e,
            depth: 0,
            path: vec!["root".into()],
        }
    }

    #[test]
    fn unreadable_file_is_an_error_and_bad_stream_a_finding() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("x/y")).unwrap();
        std::fs::create_dir_all(d.path().join("z/w")).unwrap();
        let e = engine();
        let cx = root(&e);
        // A directory opened as a file: open succeeds, read fails (EISDIR).
        let n = cx.compare(
            "m",
            &Source::File(d.path().join("x/y")),
            &Source::File(d.path().join("z/w")),
        );
        assert!(
            matches!(&n.changes[..], [Change::Note { text }] if text.starts_with("could not be read")),
            "{n:?}"
        );
        assert_eq!(lock(&e.errors).len(), 1);
        // A corrupt gzip stream decoded on the fly is a difference, not an error.
        let bad = Source::decoded(Codec::Gzip, Source::memory(b"\x1f\x8b\x08\x00garbage".to_vec()));
        let good = Source::decoded(Codec::Gzip, Source::memory(b"\x1f\x8b\x08\x00other".to_vec()));
        let n = cx.compare("s", &bad, &good);
        assert!(!n.is_empty());
        assert_eq!(lock(&e.errors).len(), 1, "decode failures are not errors");
    }

    #[test]
    fn depth_budget_falls_back_with_a_reason() {
        let opts = Options {
            max_depth: 0,
            ..Options::default()
        };
        let e = Engine::new(opts, Registry::default()).unwrap();
        let cx = root(&e);
        let n = cx.compare(
            "t",
            &Source::memory(b"a\n".to_vec()),
            &Source::memory(b"b\n".to_vec()),
        );
        let f = n.fallback.expect("fallback recorded");
        assert!(f.reason.contains("nested deeper than 0"), "{}", f.reason);
        assert!(n.changes.iter().any(|c| matches!(c, Change::Bytes { .. })));
    }

    #[test]
    fn structurally_equal_but_different_bytes_is_never_identical() {
        struct Blind;
        impl Comparator for Blind {
            fn name(&self) -> &'static str {
                "blind"
            }
            fn formats(&self) -> &'static [Format] {
                &[Format::Text]
            }
            fn compare(
                &self,
                _: &Context<'_>,
                _: &Source,
                _: &Source,
                _: &mut Node,
            ) -> Result<(), CompareError> {
                Ok(())
            }
        }
        let mut r = Registry::default();
        r.register(Box::new(Blind));
        let e = Engine::new(Options::default(), r).unwrap();
        let cx = root(&e);
        let n = cx.compare(
            "t",
            &Source::memory(b"a\n".to_vec()),
            &Source::memory(b"b\n".to_vec()),
        );
        assert!(
            n.changes
                .iter()
                .any(|c| matches!(c, Change::Note { text } if text.contains("bytes differ")))
        );
        assert!(n.changes.iter().any(|c| matches!(c, Change::Bytes { .. })));
    }
}
