//! Feeds two arbitrary byte strings through the whole engine: sniffing, every comparator,
//! recursion into members, budgets and fallbacks. Must never panic, hang or blow up memory.
#![no_main]

use libfuzzer_sys::fuzz_target;
use repro::compare::{Engine, Options, Registry, Source};

fuzz_target!(|data: &[u8]| {
    let Some((&split, rest)) = data.split_first() else {
        return;
    };
    let at = (split as usize * rest.len()) / 256;
    let (a, b) = rest.split_at(at);
    let options = Options {
        max_member_bytes: 1 << 20,
        max_expanded_bytes: 4 << 20,
        max_entries: 10_000,
        time_budget: Some(std::time::Duration::from_secs(5)),
        ..Options::default()
    };
    let engine = Engine::new(options, Registry::default()).expect("engine");
    let _ = engine.compare_sources("fuzz", &Source::memory(a.to_vec()), &Source::memory(b.to_vec()));
});
