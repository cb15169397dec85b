//! Property tests over arbitrary inputs (the stable-Rust complement of `fuzz/`): the engine
//! never panics, and never calls differing bytes identical.

use proptest::prelude::*;
use repro::compare::{Engine, Options, Registry, Source};

fn options() -> Options {
    Options {
        max_member_bytes: 1 << 20,
        max_expanded_bytes: 4 << 20,
        max_entries: 10_000,
        time_budget: Some(std::time::Duration::from_secs(5)),
        ..Options::default()
    }
}

/// Prefixes that steer arbitrary bytes into each comparator.
const MAGICS: &[&[u8]] = &[
    b"",
    b"\x7fELF\x02\x01\x01",
    b"PK\x03\x04",
    b"\x1f\x8b\x08\x00",
    b"\xfd7zXZ\x00",
    b"\x28\xb5\x2f\xfd",
    b"BZh91AY&SY",
    b"MZ",
    b"\xcf\xfa\xed\xfe",
    b"\xca\xfe\xba\xbe\x00\x00\x00\x02",
    b"!<arch>\n",
    b"!<thin>\n",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn engine_never_panics_and_is_exact(magic in 0..MAGICS.len(), a in prop::collection::vec(any::<u8>(), 0..2048), b in prop::collection::vec(any::<u8>(), 0..2048)) {
        let (mut x, mut y) = (MAGICS[magic].to_vec(), MAGICS[magic].to_vec());
        x.extend_from_slice(&a);
        y.extend_from_slice(&b);
        let engine = Engine::new(options(), Registry::default()).unwrap();
        let c = engine.compare_sources("p", &Source::memory(x.clone()), &Source::memory(y.clone()));
        prop_assert_eq!(c.identical(), x == y);
    }

    #[test]
    fn tar_headers_never_panic(a in prop::collection::vec(any::<u8>(), 512..2048)) {
        let mut x = a.clone();
        x[257..262].copy_from_slice(b"ustar");
        let mut y = x.clone();
        y[0] ^= 1;
        let engine = Engine::new(options(), Registry::default()).unwrap();
        let c = engine.compare_sources("t", &Source::memory(x), &Source::memory(y));
        prop_assert!(!c.identical());
    }
}
