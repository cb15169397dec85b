//! From finished runs to what the comparison needs: each run's outputs unpacked (the
//! recipe's exclusions left out) with their digests, a record of every run, and the runs that
//! failed where the control succeeded. A failed or timed-out control is an error.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::model::{BuildFinding, RunRecord};
use super::run::FinishedRun;
use super::{CheckError, Prepared};
use crate::artifacts::{self, Artifact};
use crate::plan::CONTROL;

/// Per run label: where its outputs were unpacked, and each output by path.
pub(super) type RunOutputs = BTreeMap<String, (PathBuf, BTreeMap<String, Artifact>)>;

/// The finished runs, ready to compare.
pub struct Collected {
    pub runs: Vec<RunRecord>,
    pub(super) outputs: RunOutputs,
    pub build_findings: Vec<BuildFinding>,
}

impl Prepared {
    /// Unpacks every run's outputs and records the runs (kept under `--keep`). Errors when the
    /// control failed, ran past its timeout, or produced no outputs.
    pub fn collect(&self, finished: &[FinishedRun]) -> Result<Collected, CheckError> {
        let exclude = artifacts::glob_set(&self.target.build.exclude_outputs);
        let mut runs = Vec::new();
        let mut outputs = RunOutputs::new();
        let mut build_findings = Vec::new();
        // A failed control is an error, given once every run is kept (`--keep`).
        let mut control_error = None;
        for run in finished {
            let (spec, r) = (&run.spec, &run.result);
            let tail = || r.log_tail.join("\n");
            if spec.is_control() {
                control_error = if r.timed_out {
                    Some(CheckError::ControlTimedOut {
                        secs: spec.timeout_secs,
                        tail: tail(),
                    })
                } else if let Some(filled) = r.filled.first().filter(|_| r.exit_code != 0) {
                    Some(CheckError::ControlFilled {
                        filled: filled.clone(),
                        tail: tail(),
                    })
                } else if r.exit_code != 0 {
                    Some(CheckError::ControlFailed {
                        code: r.exit_code,
                        tail: tail(),
                    })
                } else {
                    None
                };
            } else if !r.succeeded() {
                let what = if r.timed_out {
                    format!("ran past its timeout of {}s", spec.timeout_secs)
                } else if let Some(filled) = r.filled.first() {
                    format!("failed with exit status {} ({filled})", r.exit_code)
                } else {
                    format!("failed with exit status {}", r.exit_code)
                };
                build_findings.push(BuildFinding {
                    code: "build-failure".into(),
                    run: spec.label.clone(),
                    message: format!(
                        "run {} {what} while run {CONTROL} succeeded; its log ends with: {}",
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
            let dest = run.outputs_dir();
            let unpacked = r.with_outputs(|tar| artifacts::unpack(tar, &dest, &exclude));
            let mut count = 0;
            if let Some(unpacked) = unpacked {
                let unpacked = unpacked.map_err(|source| CheckError::Artifacts {
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
                placement: r.placement.clone(),
            });
        }
        if let Some(keep) = &self.opts.keep {
            keep_runs(keep, finished)?;
        }
        if let Some(e) = control_error {
            return Err(e);
        }
        let control = outputs.get(CONTROL).map(|(_, a)| a);
        match control {
            None => return Err(CheckError::NoOutputs { what: String::new() }),
            Some(a) if a.is_empty() => {
                let globs = &self.target.build.outputs;
                let what = if globs.is_empty() {
                    " (no file was created or changed)".to_string()
                } else {
                    format!(" matching {}", globs.join(", "))
                };
                return Err(CheckError::NoOutputs { what });
            }
            Some(_) => {}
        }
        Ok(Collected {
            runs,
            outputs,
            build_findings,
        })
    }
}

fn keep_runs(keep: &Path, finished: &[FinishedRun]) -> Result<(), CheckError> {
    for run in finished {
        let (spec, r) = (&run.spec, &run.result);
        let dest = keep.join(&spec.label);
        let io = CheckError::io;
        std::fs::create_dir_all(&dest).map_err(io(format!("creating {}", dest.display())))?;
        if r.log_path.exists() {
            std::fs::copy(&r.log_path, dest.join("build.log"))
                .map_err(io(format!("keeping {}", r.log_path.display())))?;
        }
        let outputs = run.outputs_dir();
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

/// Copies a tree of outputs (links stay links).
pub fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
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
