//! The search for one artifact's culprits, as a pure function of what the probes built so far
//! showed: replayed from the start after every round, it either names the builds it needs next
//! or finishes. Adaptive group testing: the variations the evidence points at are probed first
//! (alone, and the rest without them in the same round); otherwise a binary search over
//! prefixes of the candidates, weighted by what earlier probes cleared, finds a necessary
//! variation, and the search goes on until that variation (with those found necessary before it)
//! alone reproduces the difference. Every set found is confirmed by building what is left without
//! it; a set found is minimal as long as adding variations never removes a difference.

use std::collections::{BTreeMap, BTreeSet};

use crate::plan::Variation;

pub(super) type Set = BTreeSet<Variation>;

/// What one artifact's search knows: its digest in the control and under every set of
/// variations built so far (`None`: not produced, or the build failed).
pub(super) struct View<'a> {
    /// The variations run B had on (its digest is in `seen`).
    pub all: &'a Set,
    pub control: &'a Option<String>,
    pub seen: BTreeMap<Set, Option<String>>,
    /// Variations the findings' evidence points at, most telling first.
    pub suspects: Vec<Variation>,
}

/// What a search wants next.
#[derive(Debug, PartialEq)]
pub(super) enum Step {
    /// Builds needed to go on, most useful first (the first one is always needed).
    Need(Vec<Set>),
    Done(Found),
}

/// What a search found for one artifact.
#[derive(Debug, Clone, PartialEq, Default)]
pub(super) struct Found {
    /// Disjoint sets of variations, each of which reproduces the difference on its own.
    pub sets: Vec<Set>,
    /// The artifact differs with every variation off.
    pub random: bool,
}

/// Runs the search as far as the builds in `view` allow.
pub(super) fn step(view: &View) -> Step {
    let mut s = Search::new(view);
    match s.run() {
        Ok(found) => Step::Done(found),
        Err(Stop::Random) => Step::Done(Found {
            sets: Vec::new(),
            random: true,
        }),
        Err(Stop::Need(sets)) => Step::Need(sets),
    }
}

/// What the search can say when no more builds may be made: the sets found so far, and the
/// smallest set known to reproduce the difference that it was narrowing (not minimal).
pub(super) fn partial(view: &View) -> Found {
    let mut s = Search::new(view);
    match s.run() {
        Ok(found) => found,
        Err(Stop::Random) => Found {
            sets: Vec::new(),
            random: true,
        },
        Err(Stop::Need(_)) => {
            let mut sets = s.found;
            if !s.current.is_empty() {
                sets.push(s.current);
            }
            Found { sets, random: false }
        }
    }
}

enum Stop {
    Need(Vec<Set>),
    Random,
}

/// Weight of a candidate that earlier probes make unlikely (it stays possible: interactions
/// and outputs that are not monotone in the variations exist).
const CLEARED: f64 = 0.05;
/// Weight of a candidate related to one already suspected or found.
const RELATED: f64 = 3.0;

/// Variations whose effects often show together (a date's text depends on the clock, the zone
/// and the locale; a home directory on the user).
fn related(v: Variation) -> &'static [Variation] {
    use Variation::*;
    match v {
        Time => &[Timezone, Locale],
        Timezone => &[Time, Locale],
        Locale => &[Timezone, Time, FileOrder],
        FileOrder => &[Locale],
        User => &[Home, Umask],
        Home => &[User, BuildPath],
        Umask => &[User],
        BuildPath => &[Home],
        Environment => &[ExecPath, Home],
        ExecPath => &[Environment],
        Hostname | NumCpus => &[],
    }
}

struct Search<'v> {
    v: &'v View<'v>,
    b: Option<&'v Option<String>>,
    /// Sets found so far.
    found: Vec<Set>,
    /// The smallest set known to differ within the set being narrowed.
    current: Set,
    /// Odd digests (neither the control's nor run B's) seen before the empty set is built to
    /// tell a random build apart.
    odd_limit: usize,
    /// The builds this search has looked at so far, in its own order: every decision depends
    /// on these only, so a replay with more builds known takes the same path.
    consulted: BTreeMap<Set, Option<String>>,
}

impl<'v> Search<'v> {
    fn new(v: &'v View<'v>) -> Search<'v> {
        Search {
            v,
            b: v.seen.get(v.all),
            consulted: v
                .seen
                .get_key_value(v.all)
                .map(|(s, d)| (s.clone(), d.clone()))
                .into_iter()
                .collect(),
            found: Vec::new(),
            current: Set::new(),
            // With evidence, the first round's two probes may both be odd (two culprits).
            odd_limit: if v.suspects.iter().any(|s| v.all.contains(s)) {
                3
            } else {
                2
            },
        }
    }

    /// Whether `s` is known to differ, looked at from now on.
    fn known(&mut self, s: &Set) -> Option<bool> {
        let d = self.v.seen.get(s)?;
        self.consulted.insert(s.clone(), d.clone());
        Some(d != self.v.control)
    }

    /// Whether `s` is known to differ, without looking at it.
    fn peek(&self, s: &Set) -> bool {
        self.v.seen.contains_key(s)
    }

    /// Whether the probes show the build is deterministic somewhere: a probe gave the
    /// control's digest, two builds gave the same different one, or the control was repeated.
    fn resolved(&self) -> bool {
        if self.consulted.contains_key(&Set::new()) {
            return true;
        }
        let mut differing = BTreeSet::new();
        for d in self.consulted.values() {
            if d == self.v.control || !differing.insert(d) {
                return true;
            }
        }
        false
    }

    /// Probes whose digest is neither the control's nor run B's: what a random build gives
    /// every time (and a build with several culprits, some on).
    fn odd(&self) -> usize {
        self.consulted
            .iter()
            .filter(|(s, d)| *s != self.v.all && *d != self.v.control && Some(*d) != self.b)
            .count()
    }

    /// Whether building with `s` reproduces the difference; `with` are builds to make in the
    /// same round, useful if `s` is not known yet.
    fn test(&mut self, s: &Set, with: &[Set]) -> Result<bool, Stop> {
        if let Some(d) = self.known(s) {
            return Ok(d);
        }
        if !self.resolved() && self.odd() >= self.odd_limit {
            return Err(Stop::Need(vec![Set::new()]));
        }
        let mut need = vec![s.clone()];
        for w in with {
            if !w.is_empty() && !need.contains(w) && !self.peek(w) {
                need.push(w.clone());
            }
        }
        Err(Stop::Need(need))
    }

    fn run(&mut self) -> Result<Found, Stop> {
        if let Some(true) = self.known(&Set::new()) {
            return Err(Stop::Random);
        }
        let mut rest = self.v.all.clone();
        loop {
            let m = self.minimal(&rest)?;
            self.current.clear();
            rest = rest.difference(&m).copied().collect();
            self.found.push(m);
            // Confirm: what is left, together, must not reproduce it.
            if rest.is_empty() || !self.test(&rest, &[])? {
                break;
            }
        }
        if !self.resolved() {
            return match self.test(&Set::new(), &[]) {
                Ok(true) => Err(Stop::Random),
                Ok(false) => Ok(self.found_sets()),
                Err(e) => Err(e),
            };
        }
        Ok(self.found_sets())
    }

    fn found_sets(&self) -> Found {
        Found {
            sets: self.found.clone(),
            random: false,
        }
    }

    /// Whether the probes so far make `v` an unlikely culprit on its own: it was on in a
    /// probe that did not differ, off in one that reproduced run B exactly, or on beside a set
    /// found before in a probe that gave just that set's digest.
    fn cleared(&self, v: Variation) -> bool {
        let seen = &self.consulted;
        if seen.iter().any(|(s, d)| s.contains(&v) && d == self.v.control) {
            return true;
        }
        if seen.iter().any(|(s, d)| !s.contains(&v) && Some(d) == self.b) {
            return true;
        }
        self.found.iter().any(|m| {
            seen.get(m).is_some_and(|dm| {
                seen.iter()
                    .any(|(s, d)| s != m && s.contains(&v) && s.is_superset(m) && d == dm)
            })
        })
    }

    /// A minimal set within `r` (which differs) that still differs.
    fn minimal(&mut self, r: &Set) -> Result<Set, Stop> {
        let mut f = Set::new();
        let mut suspects: Vec<Variation> = Vec::new();
        for s in &self.v.suspects {
            if r.contains(s) && !suspects.contains(s) {
                suspects.push(*s);
            }
        }
        let mut c: Vec<Variation> = suspects.clone();
        c.extend(r.iter().filter(|v| !suspects.contains(v)));
        let mut tried = Set::new();
        loop {
            // Invariant: f ∪ c differs, and f alone (when not empty) was not known to.
            self.current = f.iter().chain(&c).copied().collect();
            if !f.is_empty() && self.test(&f, &[r.difference(&f).copied().collect()])? {
                return Ok(f);
            }
            if let [only] = c[..] {
                f.insert(only);
                return Ok(f);
            }
            // Evidence first: the suspect with what is necessary, and the rest without both
            // (the confirmation, if the suspect is it) in the same round.
            if let Some(&p) = c.iter().find(|v| suspects.contains(v) && !tried.contains(v)) {
                tried.insert(p);
                let mut with = f.clone();
                with.insert(p);
                let others: Set = r.difference(&with).copied().collect();
                if self.test(&with, &[others])? {
                    return Ok(with);
                }
                c.retain(|v| *v != p);
                let without: Set = f.iter().chain(&c).copied().collect();
                if !self.test(&without, &[])? {
                    // Needed, but not enough alone: it interacts with something.
                    f.insert(p);
                }
                continue;
            }
            let k = self.smallest_prefix(&f, &mut c)?;
            let v = c[k - 1];
            c.truncate(k - 1);
            f.insert(v);
        }
    }

    /// Orders `c` (likely culprits first) and finds the smallest `k` with `f ∪ c[..k]`
    /// differing, by a binary search that splits the candidates' weight in halves.
    fn smallest_prefix(&mut self, f: &Set, c: &mut [Variation]) -> Result<usize, Stop> {
        let mut near = Set::new();
        for s in self.v.suspects.iter().chain(f).chain(self.found.iter().flatten()) {
            near.extend(related(*s));
        }
        let weights: BTreeMap<Variation, f64> = c
            .iter()
            .map(|v| {
                let w = if near.contains(v) { RELATED } else { 1.0 };
                (*v, if self.cleared(*v) { w * CLEARED } else { w })
            })
            .collect();
        // Stable: ties keep the variations' own order.
        c.sort_by(|x, y| weights[y].total_cmp(&weights[x]));
        let w: Vec<f64> = c.iter().map(|v| weights[v]).collect();
        let (mut lo, mut hi) = (0usize, c.len());
        while hi - lo > 1 {
            let total: f64 = w[lo..hi].iter().sum();
            let mut mid = lo + 1;
            let mut best = f64::INFINITY;
            let mut left = 0.0;
            for i in lo + 1..hi {
                left += w[i - 1];
                let off = (left - total / 2.0).abs();
                if off < best {
                    (best, mid) = (off, i);
                }
            }
            let set: Set = f.iter().chain(&c[..mid]).copied().collect();
            if self.test(&set, &[])? {
                hi = mid;
                self.current = set;
            } else {
                lo = mid;
            }
        }
        Ok(hi)
    }
}

#[cfg(test)]
mod tests {
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

    #[test]
    fn two_independent_culprits_in_about_ten_probes() {
        let (mut total, mut worst, mut count) = (0, 0, 0);
        for (i, a) in Variation::ALL.into_iter().enumerate() {
            for b in Variation::ALL.into_iter().skip(i + 1) {
                let want = sets(&[&[a], &[b]]);
                let (found, probes) = simulate(&want, &[], false, 2);
                assert_eq!(sorted(found.sets), want, "{a} {b}");
                assert!(!found.random);
                total += probes;
                worst = worst.max(probes);
                count += 1;
                // With evidence for either, at most ten.
                for e in [a, b] {
                    let (found, probes) = simulate(&want, &[e], false, 2);
                    assert_eq!(sorted(found.sets), want.clone(), "{a} {b}, evidence {e}");
                    assert!(probes <= 10, "{a} {b}, evidence {e}: {probes}");
                }
                let (_, probes) = simulate(&want, &[a, b], false, 2);
                assert!(probes <= 6, "{a} {b}, evidence for both: {probes}");
            }
        }
        // Without evidence: 9.5 on average; a few pairs take 11 or 12.
        assert!(
            total as f64 / count as f64 <= 10.0,
            "average {}",
            total as f64 / count as f64
        );
        assert!(worst <= 12, "worst {worst}");
    }

    #[test]
    fn three_independent_culprits() {
        let mut total = 0;
        let mut count = 0;
        for (i, a) in Variation::ALL.into_iter().enumerate() {
            for (j, b) in Variation::ALL.into_iter().enumerate().skip(i + 1) {
                for c in Variation::ALL.into_iter().skip(j + 1) {
                    let want = sets(&[&[a], &[b], &[c]]);
                    let (found, probes) = simulate(&want, &[], false, 2);
                    assert_eq!(sorted(found.sets), want, "{a} {b} {c}");
                    total += probes;
                    count += 1;
                }
            }
        }
        // One at a time would take 12 (and says nothing about interactions).
        assert!(
            total as f64 / count as f64 <= 14.5,
            "{}",
            total as f64 / count as f64
        );
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
        // Half of them reproduce it: that half holds the culprit.
        let half: Set = Variation::ALL[..6].iter().copied().collect();
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
}
