//! Reading one RPM package from bytes in memory: the 96-byte lead, the signature header (padded
//! to 8 bytes), the main header, and the range of the payload after them. A header is an index
//! of (tag, type, offset, count) entries over a data store; every count, offset and length is
//! checked against the store before a value is read, and values are decoded into owned data.

use std::ops::Range;

use super::super::CompareError;

pub(super) const LEAD_MAGIC: [u8; 4] = [0xed, 0xab, 0xee, 0xdb];
const HEADER_MAGIC: [u8; 4] = [0x8e, 0xad, 0xe8, 0x01];
const LEAD_LEN: usize = 96;
/// rpm's own limits on a header: 64 Ki tags and a 256 MiB store.
const MAX_TAGS: u32 = 0xffff;
const MAX_STORE: u32 = 256 << 20;

fn malformed(detail: impl ToString) -> CompareError {
    CompareError::malformed("rpm", detail)
}

/// A tag's value, decoded by its type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Value {
    /// NULL, CHAR, INT8/16/32/64: the numbers.
    Ints(Vec<u64>),
    /// STRING, STRING_ARRAY, I18NSTRING: the strings (lossily decoded).
    Strings(Vec<String>),
    /// BIN: the bytes.
    Bin(Vec<u8>),
}

/// One header entry.
#[derive(Debug, Clone)]
pub(super) struct Entry {
    pub tag: u32,
    pub value: Value,
}

/// The lead: mostly obsolete, but still written and still able to differ.
#[derive(Debug, Clone)]
pub(super) struct Lead {
    pub version: (u8, u8),
    pub kind: u16,
    pub archnum: u16,
    pub name: String,
    pub osnum: u16,
    pub signature_type: u16,
}

impl Lead {
    pub(super) fn fields(&self) -> Vec<(&'static str, String)> {
        vec![
            ("lead version", format!("{}.{}", self.version.0, self.version.1)),
            (
                "lead type",
                match self.kind {
                    0 => "binary".into(),
                    1 => "source".into(),
                    k => k.to_string(),
                },
            ),
            ("lead archnum", self.archnum.to_string()),
            ("lead name", self.name.clone()),
            ("lead osnum", self.osnum.to_string()),
            ("lead signature type", self.signature_type.to_string()),
        ]
    }
}

/// One parsed package.
#[derive(Debug)]
pub(super) struct Package {
    pub lead: Lead,
    pub signature: Vec<Entry>,
    pub header: Vec<Entry>,
    pub payload: Range<usize>,
}

fn be16(b: &[u8], off: usize) -> u16 {
    b.get(off..off + 2)
        .and_then(|s| s.try_into().ok())
        .map_or(0, u16::from_be_bytes)
}

fn be32(b: &[u8], off: usize) -> u32 {
    b.get(off..off + 4)
        .and_then(|s| s.try_into().ok())
        .map_or(0, u32::from_be_bytes)
}

/// Parses `data` as an RPM package; a tag with more than `max_values` values exceeds the
/// budget (each value is decoded into memory, several times the size of its bytes).
pub(super) fn parse(data: &[u8], max_values: u64) -> Result<Package, CompareError> {
    let lead = data
        .get(..LEAD_LEN)
        .ok_or_else(|| malformed(format!("truncated lead ({} bytes)", data.len())))?;
    if lead.get(..4) != Some(&LEAD_MAGIC[..]) {
        return Err(malformed("no rpm lead magic"));
    }
    let name = lead.get(10..76).unwrap_or_default();
    let name = name.split(|&b| b == 0).next().unwrap_or_default();
    let lead = Lead {
        version: (
            lead.get(4).copied().unwrap_or(0),
            lead.get(5).copied().unwrap_or(0),
        ),
        kind: be16(lead, 6),
        archnum: be16(lead, 8),
        name: String::from_utf8_lossy(name).into_owned(),
        osnum: be16(lead, 76),
        signature_type: be16(lead, 78),
    };
    let (signature, sig_end) = header(data, LEAD_LEN, "signature header", max_values)?;
    // The signature header is padded to a multiple of 8 bytes.
    let main_start = sig_end
        .checked_add(7)
        .map(|x| x & !7)
        .filter(|&x| x <= data.len())
        .ok_or_else(|| malformed("truncated after the signature header"))?;
    let (header, main_end) = self::header(data, main_start, "header", max_values)?;
    Ok(Package {
        lead,
        signature,
        header,
        payload: main_end..data.len(),
    })
}

/// Parses the header structure at `start`; returns its entries and where it ends.
fn header(
    data: &[u8],
    start: usize,
    what: &str,
    max_values: u64,
) -> Result<(Vec<Entry>, usize), CompareError> {
    let intro = data
        .get(start..start + 16)
        .ok_or_else(|| malformed(format!("truncated {what} at offset {start}")))?;
    if intro.get(..4) != Some(&HEADER_MAGIC[..]) {
        return Err(malformed(format!("no {what} magic at offset {start}")));
    }
    let (count, store_len) = (be32(intro, 8), be32(intro, 12));
    if count > MAX_TAGS || store_len > MAX_STORE {
        return Err(malformed(format!(
            "{what}: {count} entries and a {store_len}-byte store exceed rpm's limits"
        )));
    }
    let index_start = start + 16;
    let store_start = (count as usize)
        .checked_mul(16)
        .and_then(|n| index_start.checked_add(n))
        .ok_or_else(|| malformed("offset overflow"))?;
    let end = store_start
        .checked_add(store_len as usize)
        .filter(|&e| e <= data.len())
        .ok_or_else(|| {
            malformed(format!(
                "truncated {what}: {count} entries and a {store_len}-byte store need {} bytes from \
                 offset {start}, {} remain",
                16 + 16 * count as usize + store_len as usize,
                data.len().saturating_sub(start)
            ))
        })?;
    let store = data.get(store_start..end).unwrap_or_default();
    let mut entries = Vec::with_capacity(count as usize);
    for k in 0..count as usize {
        let e = data
            .get(index_start + 16 * k..index_start + 16 * k + 16)
            .unwrap_or_default();
        let (tag, kind, offset, n) = (be32(e, 0), be32(e, 4), be32(e, 8), be32(e, 12));
        if u64::from(n) > max_values {
            return Err(CompareError::Budget(format!(
                "rpm {what}: tag {tag} has {n} values, more than {max_values}"
            )));
        }
        let value = value(store, kind, offset as usize, n as usize)
            .map_err(|d| malformed(format!("{what}: tag {tag}: {d}")))?;
        entries.push(Entry { tag, value });
    }
    Ok((entries, end))
}

/// Decodes `count` values of type `kind` at `offset` in `store`.
fn value(store: &[u8], kind: u32, offset: usize, count: usize) -> Result<Value, String> {
    let rest = store
        .get(offset..)
        .ok_or_else(|| format!("offset {offset} is past the {}-byte store", store.len()))?;
    let ints = |width: usize| -> Result<Value, String> {
        let len = count
            .checked_mul(width)
            .filter(|&l| l <= rest.len())
            .ok_or_else(|| format!("{count} values of {width} bytes overrun the store"))?;
        Ok(Value::Ints(
            rest.get(..len)
                .unwrap_or_default()
                .chunks_exact(width)
                .map(|c| c.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
                .collect(),
        ))
    };
    match kind {
        0 => Ok(Value::Ints(Vec::new())),
        1 | 2 => ints(1),
        3 => ints(2),
        4 => ints(4),
        5 => ints(8),
        6..=9 if kind != 7 => {
            // STRING holds one string whatever the count says.
            let wanted = if kind == 6 { 1 } else { count };
            if wanted > rest.len() {
                return Err(format!("{count} strings cannot fit in the store"));
            }
            let mut out = Vec::with_capacity(wanted);
            let mut pos = 0;
            for _ in 0..wanted {
                let tail = rest.get(pos..).unwrap_or_default();
                let len = tail
                    .iter()
                    .position(|&b| b == 0)
                    .ok_or_else(|| "an unterminated string overruns the store".to_string())?;
                out.push(String::from_utf8_lossy(tail.get(..len).unwrap_or_default()).into_owned());
                pos += len + 1;
            }
            Ok(Value::Strings(out))
        }
        7 => rest
            .get(..count)
            .map(|b| Value::Bin(b.to_vec()))
            .ok_or_else(|| format!("{count} bytes overrun the store")),
        k => Err(format!("unknown type {k}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A header with one entry per (tag, type, count, bytes).
    fn header(entries: &[(u32, u32, u32, &[u8])]) -> Vec<u8> {
        let mut index = Vec::new();
        let mut store = Vec::new();
        for &(tag, kind, count, bytes) in entries {
            for v in [tag, kind, store.len() as u32, count] {
                index.extend(v.to_be_bytes());
            }
            store.extend_from_slice(bytes);
        }
        let mut h = HEADER_MAGIC.to_vec();
        h.extend([0; 4]);
        h.extend((entries.len() as u32).to_be_bytes());
        h.extend((store.len() as u32).to_be_bytes());
        h.extend(index);
        h.extend(store);
        h
    }

    fn package(sig: &[u8], main: &[u8]) -> Vec<u8> {
        let mut p = LEAD_MAGIC.to_vec();
        p.resize(LEAD_LEN, 0);
        p.extend(sig);
        while !p.len().is_multiple_of(8) {
            p.push(0);
        }
        p.extend(main);
        p.extend(b"payload");
        p
    }

    #[test]
    fn parses_headers_and_finds_the_payload() {
        let sig = header(&[(1000, 4, 1, &[0, 0, 1, 0])]);
        let main = header(&[(1000, 6, 1, b"hello\0"), (1117, 8, 2, b"a\0bb\0")]);
        let data = package(&sig, &main);
        let p = parse(&data, 100).unwrap();
        assert_eq!(p.signature[0].value, Value::Ints(vec![256]));
        assert_eq!(p.header[0].value, Value::Strings(vec!["hello".into()]));
        assert_eq!(p.header[1].value, Value::Strings(vec!["a".into(), "bb".into()]));
        assert_eq!(&data[p.payload], b"payload");
    }

    #[test]
    fn rejects_overruns_and_absurd_counts() {
        let sig = header(&[]);
        assert!(parse(&package(&sig, &header(&[(1000, 6, 1, b"unterminated")])), 100).is_err());
        assert!(parse(&package(&sig, &header(&[(1000, 4, 9, &[0; 4])])), 100).is_err());
        assert!(parse(&package(&sig, &header(&[(1000, 8, u32::MAX, b"x\0")])), u64::MAX).is_err());
        assert!(matches!(
            parse(&package(&sig, &header(&[(1000, 8, 2, b"x\0y\0")])), 1),
            Err(CompareError::Budget(_))
        ));
        let mut absurd = header(&[]);
        absurd[8..12].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(parse(&package(&sig, &absurd), 100).is_err());
        let good = package(&sig, &header(&[(1000, 6, 1, b"x\0")]));
        assert!(parse(&good[..good.len() - 10], 100).is_err());
    }
}
