//! Property tests: the reader returns an error, never panics, on any input.

use proptest::prelude::*;
use repro::provenance::read;
use serde_json::{Value, json};

use super::{A, B, bundle, dsse, fixture, jsonl, statement_about};

/// Every fixture, in every wrapper, as bytes for the fuzz-like property below.
fn seeds() -> Vec<Vec<u8>> {
    let mut seeds = Vec::new();
    for name in [
        "v0.2-generator.json",
        "v1-github.json",
        "v1.0-no-run-details.json",
        "container-based.json",
        "repro-build.json",
    ] {
        let raw = fixture(name);
        seeds.push(serde_json::to_vec(&dsse(&raw)).unwrap());
        seeds.push(
            serde_json::to_vec(&bundle("application/vnd.dev.sigstore.bundle.v0.3+json", &raw)).unwrap(),
        );
        seeds.push(raw);
    }
    seeds.push(jsonl(&[
        dsse(&statement_about("a", A)),
        dsse(&statement_about("b", B)),
    ]));
    seeds
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        "[a-zA-Z0-9_:/.@+=-]{0,12}".prop_map(Value::from),
        Just(json!("https://in-toto.io/Statement/v1")),
        Just(json!("https://slsa.dev/provenance/v1")),
        Just(json!("application/vnd.in-toto+json")),
    ];
    let keys = prop_oneof![
        Just("_type".to_string()),
        Just("subject".to_string()),
        Just("digest".to_string()),
        Just("predicate".to_string()),
        Just("predicateType".to_string()),
        Just("payload".to_string()),
        Just("payloadType".to_string()),
        Just("dsseEnvelope".to_string()),
        "[a-z]{1,6}",
    ];
    leaf.prop_recursive(4, 40, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map(keys.clone(), inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512), select in prop::option::of("[a-c.]{0,4}")) {
        let _ = read(&bytes, select.as_deref());
    }

    #[test]
    fn arbitrary_json_never_panics(value in json_value()) {
        let bytes = serde_json::to_vec(&value).unwrap();
        if let Ok(p) = read(&bytes, None) { let _ = p.container_build(); let _ = p.repro_build(); }
        let _ = read(&serde_json::to_vec(&dsse(&bytes)).unwrap(), None);
    }

    #[test]
    fn mutated_fixtures_never_panic(
        seed in 0usize..64,
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
    ) {
        let seeds = seeds();
        let mut bytes = seeds[seed % seeds.len()].clone();
        for (at, byte) in edits {
            let i = at.index(bytes.len());
            bytes[i] = byte;
        }
        if truncate {
            bytes.truncate(cut.index(bytes.len()));
        }
        if let Ok(p) = read(&bytes, Some("a")) { let _ = p.container_build(); }
        if let Ok(p) = read(&bytes, None) { let _ = p.container_build(); let _ = p.repro_build(); }
    }
}
