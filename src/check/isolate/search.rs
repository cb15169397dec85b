//! The search for one artifact's culprits, as a pure function of what the probes built so far
//! showed: replayed from the start after every round, it either names the builds it needs next
//! or finishes. Adaptive group testing: the variations the evidence points at are probed first
//! (alone, and the rest without them in the same round); otherwise a binary search over
//! prefixes of the candidates finds a necessary variation, and the search goes on until that
//! variation (with those found necessary before it) alone reproduces the difference. The binary
//! search splits where the first culprit is likely to be, within the depth that keeps one culprit
//! at ⌈log2 n⌉ probes, and leaves out what earlier probes ruled out until an answer rests on that.
//! Every set found is confirmed by building what is left without it, unless a probe already
//! showed more is left: then the next search's own probes answer that. A set found is minimal as
//! long as adding variations never removes a difference.

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
        while let Some(m) = self.minimal(&rest)? {
            self.current.clear();
            rest = rest.difference(&m).copied().collect();
            let more = self.more_left(&m);
            self.found.push(m);
            // Confirm: what is left, together, must not reproduce it. When a probe already
            // showed that it does, the next search starts at once and checks what it presumes.
            if rest.is_empty() || !more && !self.test(&rest, &[])? {
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

    /// Whether a probe with all of `m` and of the sets found before on gave neither run B's
    /// digest nor the control's: what was off in it adds to the difference (when effects add
    /// up), so more than those is left.
    fn more_left(&self, m: &Set) -> bool {
        let mut on = m.clone();
        on.extend(self.found.iter().flatten());
        self.consulted
            .iter()
            .any(|(s, d)| s.is_superset(&on) && Some(d) != self.b && d != self.v.control)
    }

    /// What to build in the same round as `m` alone: the rest of `r` without it, which
    /// confirms `m` is all there is, unless a probe already showed more is left.
    fn beside(&self, r: &Set, m: &Set) -> Vec<Set> {
        if self.more_left(m) {
            Vec::new()
        } else {
            vec![r.difference(m).copied().collect()]
        }
    }

    /// Whether the probes so far rule `v` out as what `f` still needs (with `f` empty: as a
    /// culprit on its own), as long as effects add up: it was on with `f` in a probe that gave
    /// the control's digest, off in one with `f` that gave run B's, or on with `f` beside a set
    /// found before in a probe that gave just that set's digest.
    fn ruled_out(&self, v: Variation, f: &Set) -> bool {
        let seen = &self.consulted;
        let mut with_f = seen.iter().filter(|(s, _)| s.is_superset(f));
        if with_f
            .any(|(s, d)| (s.contains(&v) && d == self.v.control) || (!s.contains(&v) && Some(d) == self.b))
        {
            return true;
        }
        self.found.iter().any(|m| {
            seen.get(m).is_some_and(|dm| {
                seen.iter()
                    .any(|(s, d)| s != m && s.contains(&v) && s.is_superset(m) && s.is_superset(f) && d == dm)
            })
        })
    }

    /// A minimal set within `r` that still differs; `None` when `r` turns out not to differ
    /// (a search may start from the presumption that it does).
    fn minimal(&mut self, r: &Set) -> Result<Option<Set>, Stop> {
        // Whether `f ∪ c` is known to differ rather than presumed to; once known, it stays so.
        let mut sure = match self.known(r) {
            Some(false) => return Ok(None),
            Some(true) => true,
            None => false,
        };
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
        // Whether the binary search may leave out what earlier probes ruled out.
        let mut trust = true;
        loop {
            // Invariant: f ∪ c differs (or, unless `sure`, is presumed to), and f alone (when
            // not empty) was not known to.
            self.current = if sure { union(&f, &c) } else { Set::new() };
            if !f.is_empty() && self.test(&f, &self.beside(r, &f))? {
                return Ok(Some(f));
            }
            match c[..] {
                // Not reached while the probes are consistent: f was known to differ.
                [] => return Ok((sure && !f.is_empty()).then_some(f)),
                [only] => {
                    f.insert(only);
                    let differs = sure || self.test(&f, &self.beside(r, &f))?;
                    return Ok(differs.then_some(f));
                }
                _ => {}
            }
            // Evidence first: the suspect with what is necessary, and the rest without both
            // (the confirmation, if the suspect is it) in the same round.
            if let Some(&p) = c.iter().find(|v| suspects.contains(v) && !tried.contains(v)) {
                tried.insert(p);
                let mut with = f.clone();
                with.insert(p);
                if self.test(&with, &self.beside(r, &with))? {
                    return Ok(Some(with));
                }
                let before = union(&f, &c);
                c.retain(|v| *v != p);
                if self.test(&union(&f, &c), &[])? {
                    sure = true;
                } else if sure || self.test(&before, &[])? {
                    // Needed, but not enough alone: it interacts with something.
                    f.insert(p);
                    sure = true;
                } else {
                    return Ok(None);
                }
                continue;
            }
            // Whether what the binary search presumed turned out wrong.
            let failed = match self.smallest_prefix(&f, &mut c, trust)? {
                None => true,
                Some((k, verified)) => {
                    let Some(&v) = k.checked_sub(1).and_then(|i| c.get(i)) else {
                        return Ok(None);
                    };
                    // Only presumed: f with v alone is the next question anyway, and only if
                    // that fails is the presumption built.
                    let mut with = f.clone();
                    with.insert(v);
                    if !verified && self.test(&with, &self.beside(r, &with))? {
                        return Ok(Some(with));
                    }
                    let failed = !verified && !self.test(&union(&f, &c[..k]), &[])?;
                    if !failed {
                        c.truncate(k - 1);
                        f = with;
                        sure = true;
                    }
                    failed
                }
            };
            if failed {
                // Either what the probes ruled out is needed after all, or (when only presumed)
                // nothing here differs: ask that once, then search everything.
                if !trust || !sure && !self.test(&union(&f, &c), &[])? {
                    return Ok(None);
                }
                sure = true;
                trust = false;
            }
        }
    }

    /// Orders `c` (likely culprits first, those ruled out last) and finds the smallest `k` with
    /// `f ∪ c[..k]` differing, by a binary search among the candidates not ruled out (all of them
    /// unless `trust`); also whether `f ∪ c[..k]` is known to differ rather than presumed to.
    /// `None`: what it would presume is known not to differ.
    fn smallest_prefix(
        &mut self,
        f: &Set,
        c: &mut [Variation],
        trust: bool,
    ) -> Result<Option<(usize, bool)>, Stop> {
        let mut near = Set::new();
        for s in self.v.suspects.iter().chain(f).chain(self.found.iter().flatten()) {
            near.extend(related(*s));
        }
        let mut out: Set = Set::new();
        if trust {
            out = c.iter().filter(|v| self.ruled_out(**v, f)).copied().collect();
            if out.len() == c.len() {
                out.clear();
            }
        }
        // Stable: ties keep the variations' own order.
        c.sort_by_key(|v| (out.contains(v), !near.contains(v)));
        let top = c.len() - out.len();
        // With nothing necessary yet, the prefix search finds the first of possibly several
        // culprits, which is more likely early: weight position i of n by n - i (one culprit:
        // any position; two: the first at i leaves n - 1 - i places for the second).
        let w: Vec<f64> = c[..top]
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let base = if near.contains(v) { RELATED } else { 1.0 };
                if f.is_empty() {
                    base * (top - i) as f64
                } else {
                    base
                }
            })
            .collect();
        let mut verified = match self.known(&union(f, &c[..top])) {
            Some(false) => return Ok(None),
            known => known == Some(true),
        };
        let (mut lo, mut hi) = (0usize, top);
        while hi - lo > 1 {
            let mid = split(&w, lo, hi);
            let set = union(f, &c[..mid]);
            if self.test(&set, &[])? {
                hi = mid;
                verified = true;
                self.current = set;
            } else {
                lo = mid;
            }
        }
        Ok(Some((hi, verified)))
    }
}

fn union(f: &Set, c: &[Variation]) -> Set {
    f.iter().chain(c).copied().collect()
}

/// Where to split candidates `lo..hi` of weights `w`: as near half their weight as a split can
/// be that still settles either side in ⌈log2 (hi - lo)⌉ probes in all, so that weighting never
/// costs a probe in the worst case.
fn split(w: &[f64], lo: usize, hi: usize) -> usize {
    let n = hi - lo;
    let depth = usize::BITS - (n - 1).leading_zeros();
    let cap = 1usize << depth.saturating_sub(1);
    let total: f64 = w[lo..hi].iter().sum();
    let (mut mid, mut best, mut left) = (lo + n / 2, f64::INFINITY, 0.0);
    for i in lo + 1..hi {
        left += w[i - 1];
        if i - lo > cap || hi - i > cap {
            continue;
        }
        let off = (left - total / 2.0).abs();
        if off < best {
            (best, mid) = (off, i);
        }
    }
    mid
}

#[cfg(test)]
mod tests;
