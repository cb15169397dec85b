//! Hostile and broken inputs: truncation, corruption, bombs, deep nesting, absurd headers.

use super::*;

#[test]
fn truncated_and_corrupt_gzip_give_a_clean_fallback() {
    let d = tempfile::tempdir().unwrap();
    let (a, b) = tar_gz_pair(d.path());
    let bytes = std::fs::read(&b).unwrap();
    let cut = d.path().join("cut.tar.gz");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let c = compare(&a, &cut);
    let reason = fallback_reason(root(&c)).unwrap_or_else(|| panic!("{:#?}", c.root));
    assert!(
        reason.contains("b: ") && reason.contains("could not be decoded"),
        "{reason}"
    );

    let mut bad = bytes.clone();
    for x in bad.iter_mut().skip(200).take(64) {
        *x ^= 0x55;
    }
    let corrupt = d.path().join("corrupt.tar.gz");
    std::fs::write(&corrupt, &bad).unwrap();
    let c = compare(&a, &corrupt);
    let r = root(&c);
    assert!(
        fallback_reason(r).unwrap().contains("could not be decoded"),
        "{r:#?}"
    );
    assert!(r.changes.iter().any(|c| matches!(c, Change::Bytes { .. })));
}

#[test]
fn gzip_bomb_stops_at_the_expansion_limit() {
    let d = tempfile::tempdir().unwrap();
    // 1280 members of 8 MiB of zeros: 10 GiB decompressed from ~10 MB, written as a stream.
    let member = gzip_bytes(&vec![0u8; 8 << 20]);
    for (name, tail) in [("a.gz", b"a".as_slice()), ("b.gz", b"b".as_slice())] {
        let mut f = std::io::BufWriter::new(std::fs::File::create(d.path().join(name)).unwrap());
        for _ in 0..1280 {
            f.write_all(&member).unwrap();
        }
        f.write_all(&gzip_bytes(tail)).unwrap();
        f.flush().unwrap();
    }
    let opts = Options {
        max_expanded_bytes: 16 << 20,
        ..Options::default()
    };
    let start = std::time::Instant::now();
    let c = compare_with(opts, &d.path().join("a.gz"), &d.path().join("b.gz"));
    assert!(start.elapsed().as_secs() < 20);
    let reason = fallback_reason(root(&c)).unwrap();
    assert!(reason.contains("expansion limit"), "{reason}");
}

#[test]
fn tar_expansion_and_entry_budgets() {
    let d = tempfile::tempdir().unwrap();
    let (a, b) = tar_gz_pair(d.path());
    sh(d.path(), "gzip -dc a.tar.gz > a.tar; gzip -dc b.tar.gz > b.tar");
    let opts = Options {
        max_expanded_bytes: 100_000,
        ..Options::default()
    };
    let c = compare_with(opts, &d.path().join("a.tar"), &d.path().join("b.tar"));
    let reason = fallback_reason(root(&c)).unwrap();
    assert!(reason.contains("expansion limit"), "{reason}");
    let opts = Options {
        max_entries: 3,
        ..Options::default()
    };
    let c = compare_with(opts, &a, &b);
    let reason = fallback_reason(root(&c)).unwrap();
    assert!(reason.contains("more than 3 tar members"), "{reason}");
    // Excluded members are left out and recorded.
    let opts = Options {
        exclude: vec!["src/docs/*".into()],
        ..Options::default()
    };
    let c = compare_with(opts, &a, &b);
    assert!(find(root(&c), "src/docs/readme.txt").is_none());
    assert!(
        c.excluded.iter().any(|e| e.ends_with("src/docs/readme.txt")),
        "{:?}",
        c.excluded
    );
}

#[test]
fn thousand_level_gzip_nesting_stops_at_max_depth() {
    let d = tempfile::tempdir().unwrap();
    for (name, text) in [("a.gz", b"hello\n".as_slice()), ("b.gz", b"world\n".as_slice())] {
        // Stored blocks: each level adds a few bytes (compressing compressed data would grow
        // it by a fraction per level).
        let mut data = text.to_vec();
        for _ in 0..1000 {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::none());
            e.write_all(&data).unwrap();
            data = e.finish().unwrap();
        }
        assert!(data.len() < 100_000);
        std::fs::write(d.path().join(name), data).unwrap();
    }
    let c = pair(&d, "a.gz", "b.gz");
    let mut n = root(&c);
    let mut depth = 0;
    while let Some(child) = n.children.first() {
        n = child;
        depth += 1;
    }
    let f = n
        .fallback
        .as_ref()
        .unwrap_or_else(|| panic!("no fallback at depth {depth}"));
    assert!(f.reason.contains("nested deeper than 32"), "{f:?}");
    assert_eq!(depth, 33);
}

#[test]
fn absurd_sizes_and_bad_checksums_are_malformed() {
    let d = tempfile::tempdir().unwrap();
    let good = tar_with_size(b"00000000005\0", true);
    let cases: [(&str, Vec<u8>, &str); 3] = [
        ("huge", tar_with_size(b"77777777777\0", true), "truncated archive"),
        (
            "base256",
            tar_with_size(
                &[
                    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                ],
                true,
            ),
            "malformed tar",
        ),
        (
            "checksum",
            tar_with_size(b"00000000005\0", false),
            "checksum mismatch",
        ),
    ];
    std::fs::write(d.path().join("good.tar"), &good).unwrap();
    for (name, bytes, expect) in cases {
        let p = d.path().join(format!("{name}.tar"));
        std::fs::write(&p, &bytes).unwrap();
        let c = compare(&d.path().join("good.tar"), &p);
        let r = root(&c);
        let reason = fallback_reason(r).unwrap_or_else(|| panic!("{name}: {r:#?}"));
        assert!(reason.contains(expect), "{name}: {reason}");
        // Also inside gzip, where the stream is not seekable.
        let gz = d.path().join(format!("{name}.tar.gz"));
        std::fs::write(&gz, gzip_bytes(&bytes)).unwrap();
        let good_gz = d.path().join("good.tar.gz");
        std::fs::write(&good_gz, gzip_bytes(&good)).unwrap();
        let c = compare(&good_gz, &gz);
        assert!(fallback_reason(root(&c)).is_some(), "{name}");
    }
}

#[test]
fn huge_extension_header_is_refused_without_allocating() {
    // A GNU long-name member claiming 8 GiB, inside gzip so it costs little disk.
    let mut h = [0u8; 512];
    h[..13].copy_from_slice(b"././@LongLink");
    h[100..108].copy_from_slice(b"0000644\0");
    h[124..136].copy_from_slice(b"77777777777\0");
    h[156] = b'L';
    h[257..265].copy_from_slice(b"ustar  \0");
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    let d = tempfile::tempdir().unwrap();
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(&h).unwrap();
    // More than the 4 MiB allowed for extension headers, far less than the claimed size.
    e.write_all(&vec![b'a'; 6 << 20]).unwrap();
    std::fs::write(d.path().join("b.tar.gz"), e.finish().unwrap()).unwrap();
    std::fs::write(
        d.path().join("a.tar.gz"),
        gzip_bytes(&tar_with_size(b"00000000005\0", true)),
    )
    .unwrap();
    let c = pair(&d, "a.tar.gz", "b.tar.gz");
    let reason = fallback_reason(root(&c)).unwrap();
    assert!(reason.contains("extension header"), "{reason}");
}

mod arbitrary_bytes {
    use super::*;
    use proptest::prelude::*;

    fn seed_tar_gz() -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, data) in [("a.txt", b"hello\n".as_slice()), ("dir/b.bin", &[0u8, 1, 2, 3])] {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            b.append_data(&mut h, name, data).unwrap();
        }
        gzip_bytes(&b.into_inner().unwrap())
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 48, .. ProptestConfig::default() })]

        #[test]
        fn mutated_archives_never_panic(
            flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
            cut in any::<prop::sample::Index>(),
            plain in any::<bool>(),
        ) {
            let seed = seed_tar_gz();
            let seed = if plain {
                let mut out = Vec::new();
                std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&seed[..]), &mut out).unwrap();
                out
            } else {
                seed
            };
            let mut m = seed.clone();
            for (i, v) in flips {
                // Aim at the headers and data, not the end-of-archive zeros.
                let i = i.index(m.len().min(2048));
                m[i] ^= v;
            }
            m.truncate(cut.index(m.len() + 1).max(1));
            let d = tempfile::tempdir().unwrap();
            std::fs::write(d.path().join("a"), &seed).unwrap();
            std::fs::write(d.path().join("b"), &m).unwrap();
            let opts = Options { max_expanded_bytes: 1 << 20, ..Options::default() };
            let _ = compare_with(opts, &d.path().join("a"), &d.path().join("b"));
        }

        #[test]
        fn arbitrary_bytes_after_magic_never_panic(
            magic in prop::sample::select(vec![
                vec![0x1f, 0x8b, 8], vec![0xfd, b'7', b'z', b'X', b'Z', 0],
                vec![0x28, 0xb5, 0x2f, 0xfd], b"BZh9\x31\x41\x59\x26\x53\x59".to_vec(),
            ]),
            rest in proptest::collection::vec(any::<u8>(), 0..2048),
        ) {
            let d = tempfile::tempdir().unwrap();
            let mut b = magic.clone();
            b.extend_from_slice(&rest);
            let mut a = magic;
            a.push(0);
            std::fs::write(d.path().join("a"), &a).unwrap();
            std::fs::write(d.path().join("b"), &b).unwrap();
            let _ = pair(&d, "a", "b");
        }
    }
}
