//! The search against a pure oracle: every position of one culprit, every pair, every
//! interaction, every triple; counted in probes, as isolation spends them.

use super::*;
use Variation::*;

/// Digest of a build: which culprit sets are wholly on (a random build: the build's number).
fn digest(culprits: &[Set], on: &Set, n: &mut usize, random: bool) -> Option<String> {
    if random {
        *n += 1;
        return Some(format!("random {n}"));
    }
    let hit: Vec<usize> = (0..culprits.len())
        .filter(|i| culprits[*i].is_subset(on))
        .collect();
    Some(format!("{hit:?}"))
}

/// Runs a search to the end with `jobs` builds a round; the found sets and the probes.
fn simulate(culprits: &[Set], suspects: &[Variation], random: bool, jobs: usize) -> (Found, usize) {
    let all: Set = Variation::ALL.into_iter().collect();
    let mut n = 0;
    let control = digest(culprits, &Set::new(), &mut n, random);
    let mut seen = BTreeMap::new();
    seen.insert(all.clone(), digest(culprits, &all, &mut n, random));
    let mut probes = 0;
    loop {
        let view = View {
            all: &all,
            control: &control,
            seen: seen.clone(),
            suspects: suspects.to_vec(),
        };
        match step(&view) {
            Step::Done(found) => return (found, probes),
            Step::Need(sets) => {
                assert!(!sets.is_empty());
                for s in sets.into_iter().take(jobs) {
                    assert!(!seen.contains_key(&s), "asked twice for {s:?}");
                    probes += 1;
                    let d = digest(culprits, &s, &mut n, random);
                    seen.insert(s, d);
                }
            }
        }
        assert!(probes < 64, "runaway search");
    }
}

fn sets(of: &[&[Variation]]) -> Vec<Set> {
    of.iter().map(|s| s.iter().copied().collect()).collect()
}

fn sorted(mut v: Vec<Set>) -> Vec<Set> {
    v.sort();
    v
}

#[test]
fn one_culprit_in_at_most_six_probes_and_two_with_the_right_evidence() {
    for jobs in [1, 2, 4] {
        let mut total = 0;
        for v in Variation::ALL {
            let want = sets(&[&[v]]);
            let (found, probes) = simulate(&want, &[], false, jobs);
            assert_eq!(found.sets, want, "{v} jobs {jobs}");
            assert!(probes <= 6, "{v}: {probes} probes");
            total += probes;
            let (found, probes) = simulate(&want, &[v], false, jobs);
            assert_eq!((found.sets, probes), (want.clone(), 2), "{v} with evidence");
            // Evidence that points elsewhere costs probes, never the answer.
            let wrong = Variation::ALL[(v as usize + 5) % 12];
            let (found, probes) = simulate(&want, &[wrong], false, jobs);
            assert_eq!(found.sets, want, "{v}, evidence {wrong}");
            assert!(probes <= 8, "{v}, evidence {wrong}: {probes}");
        }
        // The bound is ⌈log2 12⌉ + 1 = 5; binary search gets close on average.
        assert!(total as f64 / 12.0 <= 5.5, "average {}", total as f64 / 12.0);
    }
}

/// Probes spent per placement: how many placements took each count.
#[derive(Default)]
struct Tally(BTreeMap<usize, usize>);

impl Tally {
    fn add(&mut self, probes: usize) {
        *self.0.entry(probes).or_default() += 1;
    }

    fn worst(&self) -> usize {
        self.0.keys().last().copied().unwrap_or(0)
    }

    fn average(&self) -> f64 {
        let (n, sum) = self
            .0
            .iter()
            .fold((0, 0), |(n, sum), (p, k)| (n + k, sum + p * k));
        sum as f64 / n as f64
    }
}

impl std::fmt::Display for Tally {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "worst {}, average {:.2}; probes×placements",
            self.worst(),
            self.average()
        )?;
        for (p, k) in &self.0 {
            write!(f, " {p}×{k}")?;
        }
        Ok(())
    }
}

/// Every placement of `k` culprits among the twelve variations (each a set of one, or all `k`
/// in one set when they interact), searched with no evidence: the found sets must be exactly
/// those, and the probes go into the tally.
fn every_placement(k: usize, interacting: bool, jobs: usize) -> Tally {
    fn choose(from: usize, k: usize, out: &mut Vec<Vec<Variation>>, acc: &mut Vec<Variation>) {
        if acc.len() == k {
            out.push(acc.clone());
            return;
        }
        for i in from..Variation::ALL.len() {
            acc.push(Variation::ALL[i]);
            choose(i + 1, k, out, acc);
            acc.pop();
        }
    }
    let mut placements = Vec::new();
    choose(0, k, &mut placements, &mut Vec::new());
    let mut tally = Tally::default();
    for vars in placements {
        let want: Vec<Set> = if interacting {
            vec![vars.iter().copied().collect()]
        } else {
            vars.iter().map(|v| Set::from([*v])).collect()
        };
        let (found, probes) = simulate(&want, &[], false, jobs);
        assert_eq!(sorted(found.sets), want, "{vars:?}, jobs {jobs}");
        assert!(!found.random, "{vars:?}");
        tally.add(probes);
    }
    tally
}

/// The bars of issue 13 over every placement (1 culprit: 12, 2: 66, 3: 220), at one build a
/// round and at two. `cargo nextest run -E 'test(every_placement)' --no-capture` prints the
/// distributions (docs/benchmarks.md has them).
#[test]
fn every_placement_within_the_bars() {
    for jobs in [1, 2] {
        let one = every_placement(1, false, jobs);
        let two = every_placement(2, false, jobs);
        let pair = every_placement(2, true, jobs);
        let three = every_placement(3, false, jobs);
        eprintln!("jobs {jobs}: 1 culprit: {one}");
        eprintln!("jobs {jobs}: 2 independent culprits: {two}");
        eprintln!("jobs {jobs}: 2 interacting (one set of two): {pair}");
        eprintln!("jobs {jobs}: 3 independent culprits: {three}");
        assert!(one.worst() <= 6, "jobs {jobs}, one culprit: {one}");
        assert!(two.worst() <= 10, "jobs {jobs}, two culprits: {two}");
        assert!(pair.worst() <= 12, "jobs {jobs}, an interaction: {pair}");
        assert!(three.worst() <= 14, "jobs {jobs}, three culprits: {three}");
    }
}

#[test]
fn two_independent_culprits_with_evidence() {
    let (mut either, mut both) = (Tally::default(), Tally::default());
    for (i, a) in Variation::ALL.into_iter().enumerate() {
        for b in Variation::ALL.into_iter().skip(i + 1) {
            let want = sets(&[&[a], &[b]]);
            for e in [a, b] {
                let (found, probes) = simulate(&want, &[e], false, 2);
                assert_eq!(sorted(found.sets), want.clone(), "{a} {b}, evidence {e}");
                either.add(probes);
            }
            let (found, probes) = simulate(&want, &[a, b], false, 2);
            assert_eq!(sorted(found.sets), want.clone(), "{a} {b}, evidence for both");
            both.add(probes);
        }
    }
    eprintln!("evidence for one of two: {either}");
    eprintln!("evidence for both: {both}");
    assert!(either.worst() <= 8, "{either}");
    assert!(both.worst() <= 4, "{both}");
}

#[test]
fn a_presumption_that_fails_costs_probes_not_the_answer() {
    // One variation alone, and again with another: a probe with the first but not the second
    // gives a digest of its own, so the search presumes a second culprit that is not there.
    for a in Variation::ALL {
        for x in Variation::ALL.into_iter().filter(|x| *x != a) {
            let want = sets(&[&[a], &[a, x]]);
            for jobs in [1, 2] {
                let (found, probes) = simulate(&want, &[], false, jobs);
                assert_eq!(found.sets, sets(&[&[a]]), "{a} and {a}+{x}, jobs {jobs}");
                assert!(probes <= 11, "{a} and {a}+{x}, jobs {jobs}: {probes}");
            }
        }
    }
    // Three that differ only together: the probes rule each out alone, wrongly.
    for three in [
        [Time, Locale, Timezone],
        [BuildPath, Umask, ExecPath],
        [Time, Home, ExecPath],
    ] {
        let want = sets(&[&three]);
        let (found, _) = simulate(&want, &[], false, 2);
        assert_eq!(found.sets, want, "{three:?}");
    }
}

#[test]
fn an_interaction_is_one_set_of_two() {
    for (i, a) in Variation::ALL.into_iter().enumerate() {
        for b in Variation::ALL.into_iter().skip(i + 1) {
            let want = sets(&[&[a, b]]);
            let (found, probes) = simulate(&want, &[], false, 2);
            assert_eq!(found.sets, want, "{a}+{b}");
            assert!(probes <= 12, "{a}+{b}: {probes}");
            let (found, probes) = simulate(&want, &[a, b], false, 2);
            assert_eq!((found.sets, probes), (want.clone(), 4), "{a}+{b} with evidence");
            let (found, _) = simulate(&want, &[a], false, 2);
            assert_eq!(found.sets, want, "{a}+{b} with evidence for {a}");
        }
    }
    // An interaction beside an independent culprit.
    let want = sets(&[&[Locale, Timezone], &[Umask]]);
    let (found, _) = simulate(&want, &[], false, 2);
    assert_eq!(sorted(found.sets), sorted(want));
}

#[test]
fn a_random_build_is_told_apart_in_a_few_probes() {
    for suspects in [&[][..], &[Time], &[Time, BuildPath]] {
        let (found, probes) = simulate(&[], suspects, true, 2);
        assert!(found.random && found.sets.is_empty(), "{suspects:?}");
        // Evidence that matched by chance costs a round before the control is repeated.
        assert!(probes <= 3 + suspects.len(), "{suspects:?}: {probes}");
    }
}

#[test]
fn out_of_builds_it_gives_the_smallest_set_known_to_differ() {
    let all: Set = Variation::ALL.into_iter().collect();
    let control = Some("a".to_string());
    let mut seen = BTreeMap::new();
    seen.insert(all.clone(), Some("b".to_string()));
    let view = View {
        all: &all,
        control: &control,
        seen: seen.clone(),
        suspects: Vec::new(),
    };
    assert_eq!(partial(&view).sets, std::slice::from_ref(&all));
    // The first probe reproduces it: that part holds the culprit.
    let Step::Need(first) = step(&view) else {
        panic!("not done")
    };
    let half = first[0].clone();
    assert!(half.len() < all.len(), "{half:?}");
    seen.insert(half.clone(), Some("b".to_string()));
    let view = View { seen, ..view };
    let Step::Need(next) = step(&view) else {
        panic!("not done")
    };
    assert!(next.iter().all(|s| s.is_subset(&half)), "{next:?}");
    assert_eq!(partial(&view).sets, [half]);
}

#[test]
fn a_failed_probe_counts_as_a_difference_and_never_panics() {
    let all: Set = [Time, Umask].into();
    let control = Some("a".to_string());
    let mut seen = BTreeMap::new();
    seen.insert(all.clone(), None);
    seen.insert([Time].into(), None);
    seen.insert([Umask].into(), Some("a".to_string()));
    let view = View {
        all: &all,
        control: &control,
        seen,
        suspects: vec![Time, Time, Hostname],
    };
    assert_eq!(
        step(&view),
        Step::Done(Found {
            sets: sets(&[&[Time]]),
            random: false
        })
    );
}
