//! Comparing the collected runs: per output path, its digest in every run, and for each run
//! whose bytes differ from the control's, the structural difference tree and what it says
//! about the cause.

use std::collections::{BTreeMap, BTreeSet};

use super::Prepared;
use super::collect::{Collected, RunOutputs};
use super::model::{ArtifactMeta, ArtifactReport, CheckReport, RunDifference, RunRecord, Verdict};
use crate::compare::{self, Engine, Registry};
use crate::plan::CONTROL;

impl Prepared {
    /// Compares the collected runs with the control and gives the report (without culprits:
    /// [`Prepared::isolate`] adds them).
    pub fn compare(&self, collected: Collected) -> CheckReport {
        let Collected {
            runs,
            outputs,
            build_findings,
        } = collected;
        let artifacts = compare_artifacts(&self.opts.compare, &outputs, &runs);
        let findings = diagnose_all(&artifacts, &runs);
        let reproducible = artifacts.iter().all(|a| a.reproducible) && build_findings.is_empty();
        let target = &self.target;
        let backend = &self.runner.backend;
        CheckReport {
            verdict: if reproducible {
                Verdict::Reproducible
            } else {
                Verdict::NotReproducible
            },
            project: target.project.clone(),
            hermetic: !target.build.network && backend.isolated(),
            build: target.build.clone(),
            backend: backend.name().into(),
            isolated: backend.isolated(),
            image: self.image.clone(),
            source_date_epoch: target.source_date_epoch,
            source_date_epoch_origin: target.source_date_epoch_origin,
            variations: self.plan.variations.clone(),
            runs,
            artifacts,
            findings,
            culprits: BTreeSet::new(),
            isolation: None,
            build_findings,
            notes: self.notes.clone(),
            source: self.source.clone(),
            dependency_phase: self.dependency_phase.clone(),
            dependencies: self.dependencies.clone(),
            elapsed_ms: self.started.elapsed().as_millis() as u64,
        }
    }
}

fn compare_artifacts(
    options: &compare::Options,
    outputs: &RunOutputs,
    runs: &[RunRecord],
) -> Vec<ArtifactReport> {
    let labels: Vec<String> = runs
        .iter()
        .filter(|r| r.outputs > 0 || r.exit_code == 0)
        .map(|r| r.spec.label.clone())
        .collect();
    let mut paths: BTreeSet<String> = BTreeSet::new();
    for (_, arts) in outputs.values() {
        paths.extend(arts.keys().cloned());
    }
    paths
        .into_iter()
        .map(|path| {
            let mut sha256 = BTreeMap::new();
            let mut metadata = BTreeMap::new();
            for label in &labels {
                let a = outputs.get(label).and_then(|(_, arts)| arts.get(&path));
                sha256.insert(label.clone(), a.map(|a| a.sha256.clone()));
                if let Some(a) = a {
                    metadata.insert(
                        label.clone(),
                        ArtifactMeta {
                            size: a.size,
                            mode: format!("{:04o}", a.mode & 0o7777),
                            mtime: a.mtime,
                        },
                    );
                }
            }
            let reference = sha256.get(CONTROL).cloned().flatten();
            let mut differences = Vec::new();
            for (label, digest) in &sha256 {
                if label == CONTROL || *digest == reference {
                    continue;
                }
                // The key is the shown name; the file is found by its name on disk (bytes).
                let file = |label: &str| {
                    let (dir, arts) = outputs.get(label)?;
                    Some(dir.join(&arts.get(&path)?.file))
                };
                let tree = match (&reference, digest, file(CONTROL), file(label)) {
                    (Some(_), Some(_), Some(control), Some(other)) => {
                        let engine = Engine::new(options.clone(), Registry::default());
                        engine
                            .ok()
                            .and_then(|e| e.compare_paths(&control, &other).ok())
                            .map(|c| (c.root, c.excluded))
                    }
                    _ => None,
                };
                let (tree, excluded) = tree.unwrap_or_default();
                differences.push(RunDifference {
                    run: label.clone(),
                    tree,
                    excluded,
                });
            }
            let reproducible = differences.is_empty() && reference.is_some();
            ArtifactReport {
                path,
                sha256,
                metadata,
                reproducible,
                differences,
                culprit_sets: Vec::new(),
                random: false,
            }
        })
        .collect()
}

/// Findings for every differing artifact, against the control run.
fn diagnose_all(artifacts: &[ArtifactReport], runs: &[RunRecord]) -> Vec<crate::diagnose::Finding> {
    let Some(control) = runs.iter().find(|r| r.spec.is_control()) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for a in artifacts {
        for d in &a.differences {
            let (Some(tree), Some(run)) = (&d.tree, runs.iter().find(|r| r.spec.label == d.run)) else {
                continue;
            };
            out.extend(crate::diagnose::diagnose(&a.path, tree, &control.spec, &run.spec));
        }
    }
    out
}
