//! Reading one side of a tar stream with bounded memory: pass 1 records every member's header
//! metadata and content digest (plus the digest of the whole stream), pass 2 pulls the bytes of
//! a chosen few members. Both walk the stream through the tar crate, behind readers that check
//! the time budget and cap what the crate may buffer for extension headers. Pass 1 counts
//! against the input's expansion budget the stream of a plain tar (a decoded stream was
//! counted by its decoder) and what the tar crate makes up on top — the holes of sparse
//! members — as it is read; a member left unread is skipped in the stream, never by producing
//! its holes.

use std::borrow::Cow;
use std::cell::Cell;
use std::collections::HashMap;
use std::io::{self, BufReader, Read};
use std::rc::Rc;

use sha2::{Digest, Sha256};

use super::super::source::read_limited;
use super::super::{CompareError, Context, Side, Source};
use crate::escape;
use crate::units::timestamp;

/// Most bytes the tar crate may read between two members: padding, headers, GNU long names,
/// PAX records and sparse maps. The crate holds long names and PAX records in memory whole, so
/// without this cap a forged extension size would make it allocate without bound.
pub(super) const EXTENSION_ALLOWANCE: u64 = 4 << 20;
/// Read-ahead between the decoder and the tar parser (which reads 512 bytes at a time).
const READ_BUF: usize = 1 << 20;
/// Content is hashed in chunks of this size.
const CHUNK: usize = 256 << 10;
/// Longer PAX values are kept as their size and digest (xattrs can be large).
const MAX_VALUE_CHARS: usize = 256;
/// Members between two checks of the time budget.
const TIME_CHECK_EVERY: usize = 256;
/// Decoded bytes between two checks of the time budget.
const TIME_CHECK_BYTES: u64 = 64 << 20;

/// A number from a header field, or the raw field when it does not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Num {
    Value(u64),
    Invalid(Box<str>),
}

impl Num {
    fn new(r: io::Result<u64>, raw: &[u8]) -> Self {
        match r {
            Ok(v) => Num::Value(v),
            Err(_) => Num::Invalid(format!("invalid {:?}", String::from_utf8_lossy(raw)).into()),
        }
    }

    fn show(&self, f: impl Fn(u64) -> String) -> String {
        match self {
            Num::Value(v) => f(*v),
            Num::Invalid(s) => s.to_string(),
        }
    }
}

/// Header metadata of one member, as small as it can be kept (archives may hold a million).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Meta {
    pub kind: u8,
    pub mode: Num,
    pub uid: Num,
    pub gid: Num,
    pub mtime: Num,
    pub size: u64,
    pub uname: Box<str>,
    pub gname: Box<str>,
    pub link: Option<Box<str>>,
    pub device: Option<(Num, Num)>,
    /// PAX records of the member (local, or the records of a global header), in stream order.
    pub pax: Vec<(Box<str>, Box<str>)>,
    /// The name of a PAX global header (other members are matched and shown by name).
    pub name: Option<Box<str>>,
}

/// Key of PAX global headers: they are matched by position among themselves, since their
/// names are made up by the archiver (GNU tar's contain a process id).
pub(super) const GLOBAL_HEADER_KEY: &str = "(PAX global header)";

impl Member {
    /// What the member is matched by across the two sides.
    pub(super) fn key(&self) -> &str {
        if self.records_only {
            GLOBAL_HEADER_KEY
        } else {
            &self.path
        }
    }
}

/// One member as recorded by pass 1.
#[derive(Debug, Clone)]
pub(super) struct Member {
    pub path: String,
    pub meta: Meta,
    /// sha256 of the member's content.
    pub digest: [u8; 32],
    /// A PAX global header: its content is its records, already compared as fields.
    pub records_only: bool,
}

/// Everything pass 1 learned about one side.
#[derive(Debug)]
pub(super) struct Scan {
    pub members: Vec<Member>,
    pub sha256: String,
    pub len: u64,
    /// Header styles seen (`gnu`, `ustar`, `v7`, `pax`), sorted.
    pub formats: Vec<&'static str>,
}

pub(super) fn type_name(kind: u8) -> Cow<'static, str> {
    Cow::Borrowed(match kind {
        b'0' | 0 => "file",
        b'1' => "hardlink",
        b'2' => "symlink",
        b'3' => "char-device",
        b'4' => "block-device",
        b'5' => "directory",
        b'6' => "fifo",
        b'7' => "contiguous-file",
        b'g' => "pax-global-header",
        b'S' => "gnu-sparse-file",
        b'V' => "gnu-volume-label",
        b'M' => "gnu-multivolume-continuation",
        other => return Cow::Owned(format!("unknown type {:?}", other as char)),
    })
}

impl Meta {
    /// Named, displayable fields in a fixed order; absent ones are left out.
    pub(super) fn fields(&self) -> Vec<(Cow<'static, str>, String)> {
        let mut f: Vec<(Cow<'static, str>, String)> =
            vec![("type".into(), type_name(self.kind).into_owned())];
        if let Some(n) = &self.name {
            f.push(("name".into(), n.to_string()));
        }
        f.extend([
            ("mode".into(), self.mode.show(|v| format!("{v:04o}"))),
            ("uid".into(), self.uid.show(|v| v.to_string())),
            ("gid".into(), self.gid.show(|v| v.to_string())),
            ("uname".into(), self.uname.to_string()),
            ("gname".into(), self.gname.to_string()),
            ("mtime".into(), self.mtime.show(show_time)),
            ("size".into(), self.size.to_string()),
        ]);
        if let Some(l) = &self.link {
            let name = if self.kind == b'1' {
                "hardlink-target"
            } else {
                "symlink-target"
            };
            f.push((name.into(), l.to_string()));
        }
        if let Some((major, minor)) = &self.device {
            let show = |n: &Num| n.show(|v| v.to_string());
            f.push(("device".into(), format!("{},{}", show(major), show(minor))));
        }
        for (k, v) in &self.pax {
            f.push((format!("pax.{k}").into(), v.to_string()));
        }
        f
    }
}

fn show_time(v: u64) -> String {
    i64::try_from(v).map_or_else(|_| v.to_string(), timestamp)
}

/// Why a reader stopped on purpose; carried inside an `io::Error` through the tar crate.
#[derive(Debug)]
enum Stop {
    /// The input's expansion budget is spent (the message says so).
    Expanded(String),
    Extension,
    /// The time budget ran out in the middle of a large member.
    Time(String),
}

impl std::fmt::Display for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Stop::Expanded(msg) | Stop::Time(msg) => f.write_str(msg),
            Stop::Extension => write!(
                f,
                "an extension header (long name, PAX records or sparse map) is larger than {EXTENSION_ALLOWANCE} bytes"
            ),
        }
    }
}

impl std::error::Error for Stop {}

/// Maps an error from the tar crate (or the readers below it) to a comparison error.
pub(super) fn tar_error(e: io::Error) -> CompareError {
    match e.get_ref().and_then(|i| i.downcast_ref::<Stop>()) {
        Some(s @ (Stop::Expanded(_) | Stop::Time(_))) => CompareError::Budget(s.to_string()),
        Some(s @ Stop::Extension) => CompareError::malformed("tar", s),
        None => CompareError::malformed("tar", e),
    }
}

/// Counts (and optionally hashes) every byte of the stream, charging them to `charge`'s
/// expansion budget when given, and checks the time budget every `TIME_CHECK_BYTES`, as one
/// member can be huge.
struct Hashing<'c, 'e, R> {
    inner: R,
    hasher: Option<Sha256>,
    count: u64,
    charge: Option<Side>,
    cx: &'c Context<'e>,
    next_time_check: u64,
}

impl<R: Read> Read for Hashing<'_, '_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(side) = self.charge
            && let Err(e) = self.cx.charge(side, n as u64)
        {
            return Err(io::Error::other(Stop::Expanded(e.to_string())));
        }
        self.count = self.count.saturating_add(n as u64);
        if self.count >= self.next_time_check {
            self.next_time_check = self.count.saturating_add(TIME_CHECK_BYTES);
            if let Err(e) = self.cx.check_time() {
                return Err(io::Error::other(Stop::Time(e.to_string())));
            }
        }
        if let (Some(h), Some(bytes)) = (self.hasher.as_mut(), buf.get(..n)) {
            h.update(bytes);
        }
        Ok(n)
    }
}

/// The tar parser's position, and how far it may read before it hands back a member.
#[derive(Default)]
struct Track {
    pos: Cell<u64>,
    ceiling: Cell<u64>,
}

struct Ceiling<R> {
    inner: R,
    track: Rc<Track>,
}

impl<R: Read> Read for Ceiling<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let room = self.track.ceiling.get().saturating_sub(self.track.pos.get());
        if room == 0 && !buf.is_empty() {
            return Err(io::Error::other(Stop::Extension));
        }
        let want = buf.len().min(usize::try_from(room).unwrap_or(usize::MAX));
        let n = self.inner.read(buf.get_mut(..want).unwrap_or_default())?;
        self.track.pos.set(self.track.pos.get() + n as u64);
        Ok(n)
    }
}

/// Whether a walk goes on after a member.
#[derive(PartialEq, Eq)]
pub(super) enum Flow {
    Continue,
    Stop,
}

/// What a walk does with each member.
pub(super) trait Visitor {
    fn member<R: Read>(&mut self, index: usize, entry: &mut tar::Entry<'_, R>) -> Result<Flow, CompareError>;
}

/// Stream digest and length of a walk that hashed (pass 1).
struct Walked {
    sha256: Option<String>,
    len: u64,
}

/// Walks the members of `src` in order; with `hash` (pass 1, of input `hash`), reads to the end
/// of the stream (padding and anything after the end-of-archive blocks included) and returns
/// its digest.
fn walk(
    cx: &Context<'_>,
    src: &Source,
    hash: Option<Side>,
    v: &mut impl Visitor,
) -> Result<Walked, CompareError> {
    let track = Rc::new(Track::default());
    let hashing = Hashing {
        inner: src.open()?,
        hasher: hash.map(|_| Sha256::new()),
        count: 0,
        // A decoded stream was counted by its decoder.
        charge: hash.filter(|_| !matches!(src, Source::Decoded { .. })),
        cx,
        next_time_check: TIME_CHECK_BYTES,
    };
    let reader = Ceiling {
        inner: BufReader::with_capacity(READ_BUF, hashing),
        track: Rc::clone(&track),
    };
    let mut archive = tar::Archive::new(reader);
    let flow = each_member(cx, &mut archive, &track, v)?;
    if flow == Flow::Stop || hash.is_none() {
        return Ok(Walked {
            sha256: None,
            len: track.pos.get(),
        });
    }
    let mut rest = archive.into_inner();
    io::copy(&mut rest, &mut io::sink()).map_err(tar_error)?;
    // The read-ahead buffer is empty after reading to the end, so nothing is lost here.
    let hashing = rest.inner.into_inner();
    Ok(Walked {
        sha256: hashing.hasher.map(|h| hex::encode(h.finalize())),
        len: hashing.count,
    })
}

/// Hands each member to the visitor, until the end of the archive or until it says stop.
fn each_member<R: Read>(
    cx: &Context<'_>,
    archive: &mut tar::Archive<R>,
    track: &Track,
    v: &mut impl Visitor,
) -> Result<Flow, CompareError> {
    let opts = cx.options();
    let mut entries = archive.entries().map_err(tar_error)?;
    let mut index = 0usize;
    // Stream bytes of the previous member that the crate will skip before the next header.
    let mut unread = 0u64;
    loop {
        track.ceiling.set(
            track
                .pos
                .get()
                .saturating_add(unread)
                .saturating_add(EXTENSION_ALLOWANCE),
        );
        let Some(entry) = entries.next() else {
            return Ok(Flow::Continue);
        };
        let mut entry = entry.map_err(tar_error)?;
        track.ceiling.set(u64::MAX);
        if index as u64 >= opts.max_entries {
            return Err(CompareError::Budget(format!(
                "more than {} tar members",
                opts.max_entries
            )));
        }
        if index.is_multiple_of(TIME_CHECK_EVERY) {
            cx.check_time()?;
        }
        if v.member(index, &mut entry)? == Flow::Stop {
            return Ok(Flow::Stop);
        }
        // Whatever the visitor left unread is skipped, so that the next header is read within
        // the allowance: by reading it, or for a sparse member (whose reader would make up its
        // holes, possibly petabytes of them) by letting the crate skip its stored bytes.
        unread = if entry.header().entry_type().is_gnu_sparse() {
            let stored = entry.header().entry_size().map_err(tar_error)?;
            stored.div_ceil(512).saturating_mul(512)
        } else {
            io::copy(&mut entry, &mut io::sink()).map_err(tar_error)?;
            0
        };
        index += 1;
    }
}

/// Pass 1 over one side.
pub(super) fn scan(cx: &Context<'_>, src: &Source, side: Side) -> Result<Scan, CompareError> {
    let mut v = Recorder {
        cx,
        side,
        members: Vec::new(),
        formats: Vec::new(),
        buf: vec![0u8; CHUNK],
    };
    let w = walk(cx, src, Some(side), &mut v)?;
    let mut formats = v.formats;
    formats.sort_unstable();
    Ok(Scan {
        members: v.members,
        sha256: w.sha256.unwrap_or_default(),
        len: w.len,
        formats,
    })
}

struct Recorder<'c, 'e> {
    cx: &'c Context<'e>,
    /// The input the stream comes from, whose expansion budget the holes count against.
    side: Side,
    members: Vec<Member>,
    formats: Vec<&'static str>,
    buf: Vec<u8>,
}

impl Visitor for Recorder<'_, '_> {
    fn member<R: Read>(&mut self, _index: usize, e: &mut tar::Entry<'_, R>) -> Result<Flow, CompareError> {
        // Shown names are injective: two paths that differ in bytes stay two keys.
        let path = escape::name(&e.path_bytes());
        let h = e.header();
        let kind = h.entry_type().as_byte();
        let old = h.as_old();
        let style = if h.as_gnu().is_some() {
            "gnu"
        } else if h.as_ustar().is_some() {
            "ustar"
        } else {
            "v7"
        };
        let name = |b: Option<&[u8]>| -> Box<str> { escape::name(b.unwrap_or_default()).into() };
        let device = matches!(kind, b'3' | b'4').then(|| {
            let n = |r: io::Result<Option<u32>>| match r {
                Ok(Some(v)) => Num::Value(u64::from(v)),
                Ok(None) => Num::Invalid("absent".into()),
                Err(e) => Num::Invalid(format!("invalid ({e})").into()),
            };
            (n(h.device_major()), n(h.device_minor()))
        });
        let mut meta = Meta {
            kind,
            mode: Num::new(h.mode().map(u64::from), &old.mode),
            uid: Num::new(h.uid(), &old.uid),
            gid: Num::new(h.gid(), &old.gid),
            mtime: Num::new(h.mtime(), &old.mtime),
            size: e.size(),
            uname: name(h.username_bytes()),
            gname: name(h.groupname_bytes()),
            link: e.link_name_bytes().map(|l| escape::name(&l).into()),
            device,
            pax: Vec::new(),
            name: None,
        };
        let global = kind == b'g';
        if global {
            meta.name = Some(path.as_str().into());
        }
        // For a global header the crate would read the records itself, without a bound; they
        // are read below with the content instead.
        if !global && let Some(exts) = e.pax_extensions().map_err(tar_error)? {
            meta.pax = records(exts, true);
            push_unique(&mut self.formats, "pax");
        }
        if global {
            push_unique(&mut self.formats, "pax");
        }
        push_unique(&mut self.formats, style);
        let Content {
            digest,
            len: read,
            kept: body,
        } = hash_content(self, e, global)?;
        if read != meta.size {
            return Err(CompareError::malformed(
                "tar",
                format!(
                    "truncated archive: member {path} has {read} of {} bytes",
                    meta.size
                ),
            ));
        }
        if let Some(body) = body {
            meta.pax = records(tar::PaxExtensions::new(&body), false);
        }
        self.members.push(Member {
            path,
            meta,
            digest,
            records_only: global,
        });
        Ok(Flow::Continue)
    }
}

fn push_unique(v: &mut Vec<&'static str>, s: &'static str) {
    if !v.contains(&s) {
        v.push(s);
    }
}

/// A member's content as pass 1 saw it.
struct Content {
    digest: [u8; 32],
    len: u64,
    /// The bytes, when asked for and within the allowance.
    kept: Option<Vec<u8>>,
}

/// Hashes a member's content; with `keep`, also returns it when it fits the allowance. The
/// bytes of a sparse member are charged to the input's expansion budget (its holes come from
/// nowhere), and the time budget is checked as bytes come, however they are made.
fn hash_content<R: Read>(
    r: &mut Recorder<'_, '_>,
    e: &mut tar::Entry<'_, R>,
    keep: bool,
) -> Result<Content, CompareError> {
    let sparse = e.header().entry_type().is_gnu_sparse();
    let mut h = Sha256::new();
    let mut read = 0u64;
    let mut next_time_check = TIME_CHECK_BYTES;
    let mut kept = keep.then(Vec::new);
    let buf = &mut r.buf;
    loop {
        let n = match e.read(buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(tar_error(err)),
        };
        if sparse {
            r.cx.charge(r.side, n as u64)?;
        }
        let chunk = buf.get(..n).unwrap_or_default();
        h.update(chunk);
        read = read.saturating_add(n as u64);
        if read >= next_time_check {
            r.cx.check_time()?;
            next_time_check = read.saturating_add(TIME_CHECK_BYTES);
        }
        if let Some(k) = kept.as_mut() {
            if read <= EXTENSION_ALLOWANCE {
                k.extend_from_slice(chunk);
            } else {
                kept = None;
            }
        }
    }
    Ok(Content {
        digest: h.finalize().into(),
        len: read,
        kept,
    })
}

/// PAX records as displayable pairs; `path`/`linkpath` are left out of a member's records
/// because they already are its name and link target.
fn records(exts: tar::PaxExtensions<'_>, local: bool) -> Vec<(Box<str>, Box<str>)> {
    let mut out = Vec::new();
    for ext in exts {
        let Ok(ext) = ext else {
            out.push(("(malformed)".into(), "a PAX record does not parse".into()));
            break;
        };
        let key = escape::name(ext.key_bytes());
        if local && (key == "path" || key == "linkpath") {
            continue;
        }
        out.push((key.into(), short_value(ext.value_bytes()).into()));
    }
    out
}

fn short_value(v: &[u8]) -> String {
    let s = escape::name(v);
    if s.chars().count() <= MAX_VALUE_CHARS {
        return s;
    }
    format!("({} bytes, sha256 {})", v.len(), hex::encode(Sha256::digest(v)))
}

/// Pass 2 over one side: the bytes of the members at `wanted` (indexes from pass 1), each at
/// most `limit` bytes. Stops reading after the last one.
pub(super) fn extract(
    cx: &Context<'_>,
    src: &Source,
    wanted: &[usize],
    limit: u64,
) -> Result<HashMap<usize, Vec<u8>>, CompareError> {
    let mut sorted = wanted.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut v = Extractor {
        wanted: sorted,
        next: 0,
        limit,
        out: HashMap::new(),
    };
    if !v.wanted.is_empty() {
        walk(cx, src, None, &mut v)?;
    }
    Ok(v.out)
}

struct Extractor {
    wanted: Vec<usize>,
    next: usize,
    limit: u64,
    out: HashMap<usize, Vec<u8>>,
}

impl Visitor for Extractor {
    fn member<R: Read>(&mut self, index: usize, e: &mut tar::Entry<'_, R>) -> Result<Flow, CompareError> {
        if self.wanted.get(self.next) == Some(&index) {
            let bytes = read_limited(&mut *e, self.limit).map_err(|err| match err {
                super::super::SourceError::Io(io) => tar_error(io),
                other => other.into(),
            })?;
            self.out.insert(index, bytes);
            self.next += 1;
        }
        Ok(if self.next >= self.wanted.len() {
            Flow::Stop
        } else {
            Flow::Continue
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_errors_are_told_apart() {
        let e = io::Error::other(Stop::Expanded("more than 10 bytes".into()));
        assert!(matches!(tar_error(e), CompareError::Budget(_)));
        let e = io::Error::other(Stop::Extension);
        assert!(matches!(tar_error(e), CompareError::Malformed { .. }));
        let e = io::Error::other("archive header checksum mismatch");
        assert!(tar_error(e).to_string().contains("checksum mismatch"));
    }

    #[test]
    fn ceiling_stops_reads() {
        let track = Rc::new(Track::default());
        track.ceiling.set(3);
        let mut r = Ceiling {
            inner: &b"abcdef"[..],
            track: Rc::clone(&track),
        };
        let mut buf = [0u8; 8];
        assert_eq!(r.read(&mut buf).unwrap(), 3);
        assert!(r.read(&mut buf).is_err());
        track.ceiling.set(u64::MAX);
        assert_eq!(r.read(&mut buf).unwrap(), 3);
    }

    #[test]
    fn long_values_are_summarised() {
        assert_eq!(short_value(b"1700000000.5"), "1700000000.5");
        let long = vec![b'x'; 1000];
        assert!(short_value(&long).starts_with("(1000 bytes, sha256 "));
        assert_eq!(type_name(b'2'), "symlink");
        assert_eq!(type_name(b'Z'), "unknown type 'Z'");
    }
}
