//! Turning finished runs into a report: outputs unpacked per run, compared across runs by
//! bytes, and structurally where they differ.

use super::*;

pub(super) struct CollectInput<'a> {
    pub(super) opts: &'a CheckOptions,
    pub(super) build: BuildDef,
    pub(super) plan: Plan,
    pub(super) image: ImageInfo,
    pub(super) sde: i64,
    pub(super) sde_origin: EpochOrigin,
    pub(super) notes: Vec<String>,
    pub(super) results: Vec<(RunSpec, PathBuf, RunResult)>,
    pub(super) started: std::time::Instant,
}

pub(super) fn collect(input: CollectInput<'_>) -> Result<CheckReport, CheckError> {
    let CollectInput {
        opts,
        build,
        plan,
        image,
        sde,
        sde_origin,
        notes,
        results,
        started,
    } = input;
    let exclude = output_excludes(&build);
    let mut runs = Vec::new();
    let mut outputs: BTreeMap<String, (PathBuf, BTreeMap<String, Artifact>)> = BTreeMap::new();
    let mut build_findings = Vec::new();
    for (spec, run_dir, r) in &results {
        if spec.label == "A" {
            if r.timed_out {
                return Err(CheckError::ControlTimedOut {
                    secs: spec.timeout_secs,
                });
            }
            if r.exit_code != 0 {
                return Err(CheckError::ControlFailed {
                    code: r.exit_code,
                    tail: r.log_tail.join("\n"),
                });
            }
        } else if r.timed_out || r.exit_code != 0 {
            let what = if r.timed_out {
                format!("ran past its timeout of {}s", spec.timeout_secs)
            } else {
                format!("failed with exit status {}", r.exit_code)
            };
            build_findings.push(BuildFinding {
                code: "build-failure".into(),
                run: spec.label.clone(),
                message: format!(
                    "run {} {what} while run A succeeded; its log ends with: {}",
                    spec.label,
                    r.log_tail
                        .iter()
                        .rev()
                        .take(3)
                        .rev()
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(" | ")
                ),
            });
        }
        let mut count = 0;
        if let Some(archive) = &r.outputs_archive {
            let dest = run_dir.join("outputs");
            let unpacked =
                unpack_outputs(r, archive, &dest, &exclude).map_err(|source| CheckError::Artifacts {
                    run: spec.label.clone(),
                    source,
                })?;
            count = unpacked.artifacts.len();
            outputs.insert(spec.label.clone(), (dest, unpacked.artifacts));
        }
        runs.push(RunRecord {
            spec: spec.clone(),
            exit_code: r.exit_code,
            timed_out: r.timed_out,
            duration_ms: r.duration.as_millis() as u64,
            overhead_ms: r.overhead.as_millis() as u64,
            outputs: count,
            log_tail: r.log_tail.clone(),
        });
    }
    if let Some(keep) = &opts.keep {
        keep_runs(keep, &results)?;
    }
    let control = outputs.get("A").map(|(d, a)| (d.clone(), a.clone()));
    let Some((control_dir, control_artifacts)) = control else {
        return Err(CheckError::NoOutputs { what: String::new() });
    };
    if control_artifacts.is_empty() {
        let what = if build.outputs.is_empty() {
            " (no file was created or changed)".to_string()
        } else {
            format!(" matching {}", build.outputs.join(", "))
        };
        return Err(CheckError::NoOutputs { what });
    }
    let artifacts = compare_artifacts(opts, &control_dir, &control_artifacts, &outputs, &runs);
    let findings = diagnose_all(&artifacts, &runs);
    let reproducible = artifacts.iter().all(|a| a.reproducible) && build_findings.is_empty();
    Ok(CheckReport {
        verdict: if reproducible {
            Verdict::Reproducible
        } else {
            Verdict::NotReproducible
        },
        project: opts.dir.display().to_string(),
        hermetic: !build.network && !opts.local,
        build,
        backend: if opts.local { "local" } else { "docker" }.into(),
        isolated: !opts.local,
        image,
        source_date_epoch: sde,
        source_date_epoch_origin: sde_origin,
        variations: plan.variations.clone(),
        runs,
        artifacts,
        findings,
        culprits: BTreeSet::new(),
        isolation: None,
        build_findings,
        notes,
        elapsed_ms: started.elapsed().as_millis() as u64,
    })
}

type RunOutputs = BTreeMap<String, (PathBuf, BTreeMap<String, Artifact>)>;

fn compare_artifacts(
    opts: &CheckOptions,
    control_dir: &Path,
    control: &BTreeMap<String, Artifact>,
    outputs: &RunOutputs,
    runs: &[RunRecord],
) -> Vec<ArtifactReport> {
    let labels: Vec<String> = runs
        .iter()
        .filter(|r| r.outputs > 0 || r.exit_code == 0)
        .map(|r| r.spec.label.clone())
        .collect();
    let mut paths: BTreeSet<String> = control.keys().cloned().collect();
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
            let reference = sha256.get("A").cloned().flatten();
            let mut differences = Vec::new();
            for (label, digest) in &sha256 {
                if label == "A" || *digest == reference {
                    continue;
                }
                let other = outputs.get(label).map(|(d, _)| d.join(&path));
                let tree = match (&reference, digest, other) {
                    (Some(_), Some(_), Some(other)) => {
                        let engine = Engine::new(opts.compare.clone(), Registry::default());
                        engine
                            .ok()
                            .and_then(|e| e.compare_paths(&control_dir.join(&path), &other).ok())
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

fn keep_runs(keep: &Path, results: &[(RunSpec, PathBuf, RunResult)]) -> Result<(), CheckError> {
    for (spec, run_dir, r) in results {
        let dest = keep.join(&spec.label);
        let io = |context: String| move |source| CheckError::Io { context, source };
        std::fs::create_dir_all(&dest).map_err(io(format!("creating {}", dest.display())))?;
        if r.log_path.exists() {
            std::fs::copy(&r.log_path, dest.join("build.log"))
                .map_err(io(format!("keeping {}", r.log_path.display())))?;
        }
        let outputs = run_dir.join("outputs");
        if outputs.exists() {
            copy_tree(&outputs, &dest.join("outputs"))
                .map_err(io(format!("keeping outputs in {}", dest.display())))?;
        }
        let spec_json = serde_json::to_string_pretty(spec).unwrap_or_default();
        std::fs::write(dest.join("run.json"), spec_json)
            .map_err(io(format!("writing {}", dest.display())))?;
    }
    Ok(())
}

pub(super) fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        let kind = entry.file_type()?;
        if kind.is_dir() {
            copy_tree(&entry.path(), &target)?;
        } else if kind.is_symlink() {
            // Kept as a link: following it could copy a file from outside the outputs.
            std::os::unix::fs::symlink(std::fs::read_link(entry.path())?, target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

/// Findings for every differing artifact, against the control run.
fn diagnose_all(artifacts: &[ArtifactReport], runs: &[RunRecord]) -> Vec<crate::diagnose::Finding> {
    let Some(control) = runs.iter().find(|r| r.spec.label == "A") else {
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
