//! Matching the published subjects to the rebuilt artifacts: by path, then by file name, then
//! by digest; the digests the provenance records are then compared with the rebuilt files'.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use serde::Serialize;
use sha2::Digest;

use crate::provenance::Subject;

/// How a subject was paired with an artifact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum MatchedBy {
    /// The artifact's path is the subject's name.
    Path,
    /// The artifact's file name is the subject's (the only one with that name).
    FileName,
    /// No artifact has the subject's name, but one has its digest.
    Digest,
    /// Nothing the build made corresponds to the subject.
    Unmatched,
}

/// One published subject and what the rebuild made of it.
#[derive(Debug, Clone, Serialize)]
pub struct SubjectMatch {
    pub name: String,
    /// The digests the provenance records.
    pub recorded: BTreeMap<String, String>,
    /// The rebuilt artifact's path among the outputs.
    pub artifact: Option<String>,
    /// The same algorithms over the rebuilt artifact (those we can compute).
    pub rebuilt: BTreeMap<String, String>,
    pub matched_by: MatchedBy,
    /// Every recorded digest we can compute is equal (and there is at least one).
    pub matches: bool,
    /// Why it does not match, in words.
    pub problem: Option<String>,
}

/// Algorithms we compute over rebuilt artifacts.
const COMPUTABLE: [&str; 3] = ["sha256", "sha384", "sha512"];

/// Pairs each subject with an output of the control run (`outputs`: path → sha256; the files
/// are under `dir`).
pub fn match_subjects(
    subjects: &[Subject],
    outputs: &BTreeMap<String, String>,
    dir: &Path,
) -> Vec<SubjectMatch> {
    subjects
        .iter()
        .map(|s| {
            let (artifact, matched_by, mut problem) = pair(s, outputs);
            let mut rebuilt = BTreeMap::new();
            if let Some(path) = &artifact {
                for alg in COMPUTABLE {
                    if !s.digest.contains_key(alg) {
                        continue;
                    }
                    let value = if alg == "sha256" {
                        outputs.get(path).cloned()
                    } else {
                        digest_file(&dir.join(path), alg)
                    };
                    if let Some(v) = value {
                        rebuilt.insert(alg.to_string(), v);
                    }
                }
            }
            let compared: Vec<(&String, &String)> = s
                .digest
                .iter()
                .filter(|(alg, _)| rebuilt.contains_key(*alg))
                .collect();
            let matches = artifact.is_some()
                && !compared.is_empty()
                && compared.iter().all(|(alg, v)| rebuilt.get(*alg) == Some(*v));
            if problem.is_none() && artifact.is_some() && !matches {
                problem = Some(if compared.is_empty() {
                    format!(
                        "the provenance records no digest repro can compute ({}); repro computes {}",
                        s.digest.keys().cloned().collect::<Vec<_>>().join(", "),
                        COMPUTABLE.join(", ")
                    )
                } else {
                    let (alg, want) = compared[0];
                    format!(
                        "the rebuilt file has {alg} {}, the provenance records {want}",
                        rebuilt.get(alg).map_or("?", String::as_str)
                    )
                });
            }
            SubjectMatch {
                name: s.name.clone(),
                recorded: s.digest.clone(),
                artifact,
                rebuilt,
                matched_by,
                matches,
                problem,
            }
        })
        .collect()
}

fn pair(s: &Subject, outputs: &BTreeMap<String, String>) -> (Option<String>, MatchedBy, Option<String>) {
    let name = s.name.trim_start_matches("./");
    if outputs.contains_key(name) {
        return (Some(name.to_string()), MatchedBy::Path, None);
    }
    let file_name = name.rsplit('/').next().unwrap_or(name);
    let same_name: Vec<&String> = outputs
        .keys()
        .filter(|p| p.rsplit('/').next() == Some(file_name))
        .collect();
    let recorded = s.sha256();
    match same_name.as_slice() {
        [one] => return (Some((*one).clone()), MatchedBy::FileName, None),
        [] => {}
        several => {
            // Several outputs share the name: the one with the recorded digest, if any.
            if let Some(p) = several
                .iter()
                .find(|p| recorded.is_some() && outputs.get(**p).map(String::as_str) == recorded)
            {
                return (Some((*p).clone()), MatchedBy::FileName, None);
            }
            return (
                None,
                MatchedBy::Unmatched,
                Some(format!(
                    "{} outputs are named `{file_name}` ({}) and none has the recorded digest",
                    several.len(),
                    several.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
                )),
            );
        }
    }
    if let Some(want) = recorded
        && let Some((p, _)) = outputs.iter().find(|(_, d)| d.as_str() == want)
    {
        return (Some(p.clone()), MatchedBy::Digest, None);
    }
    (
        None,
        MatchedBy::Unmatched,
        Some(format!(
            "the build made no file named `{file_name}` and none with the recorded digest"
        )),
    )
}

fn digest_file(path: &Path, alg: &str) -> Option<String> {
    fn run<D: Digest>(path: &Path) -> Option<String> {
        let mut f = std::fs::File::open(path).ok()?;
        let mut d = D::new();
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = f.read(&mut buf).ok()?;
            if n == 0 {
                break;
            }
            d.update(&buf[..n]);
        }
        Some(hex::encode(d.finalize()))
    }
    match alg {
        "sha384" => run::<sha2::Sha384>(path),
        "sha512" => run::<sha2::Sha512>(path),
        _ => run::<sha2::Sha256>(path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subject(name: &str, sha256: &str) -> Subject {
        Subject {
            name: name.into(),
            digest: [("sha256".to_string(), sha256.to_string())].into(),
        }
    }

    fn outputs(items: &[(&str, &str)]) -> BTreeMap<String, String> {
        items
            .iter()
            .map(|(p, d)| (p.to_string(), d.to_string()))
            .collect()
    }

    #[test]
    fn pairs_by_path_file_name_and_digest() {
        let out = outputs(&[("dist/app", "aa"), ("dist/lib.so", "bb"), ("x/other", "cc")]);
        let d = Path::new("/nonexistent");
        let m = match_subjects(
            &[
                subject("dist/app", "aa"),
                subject("lib.so", "bb"),
                subject("renamed", "cc"),
                subject("app2", "dd"),
                subject("./dist/app", "ee"),
            ],
            &out,
            d,
        );
        assert_eq!(m[0].matched_by, MatchedBy::Path);
        assert!(m[0].matches);
        assert_eq!(m[1].matched_by, MatchedBy::FileName);
        assert_eq!(m[1].artifact.as_deref(), Some("dist/lib.so"));
        assert!(m[1].matches);
        assert_eq!(m[2].matched_by, MatchedBy::Digest);
        assert!(m[2].matches);
        assert_eq!(m[3].matched_by, MatchedBy::Unmatched);
        assert!(!m[3].matches);
        assert!(m[3].problem.as_deref().unwrap().contains("no file named"));
        assert_eq!(m[4].matched_by, MatchedBy::Path);
        assert!(!m[4].matches);
        assert!(
            m[4].problem.as_deref().unwrap().contains("records ee"),
            "{:?}",
            m[4].problem
        );
    }

    #[test]
    fn several_outputs_with_one_name_need_the_digest() {
        let out = outputs(&[("a/app", "aa"), ("b/app", "bb")]);
        let d = Path::new("/nonexistent");
        let m = match_subjects(&[subject("app", "bb"), subject("app", "zz")], &out, d);
        assert_eq!(m[0].artifact.as_deref(), Some("b/app"));
        assert!(m[0].matches);
        assert!(!m[1].matches);
        assert!(m[1].problem.as_deref().unwrap().contains("2 outputs"));
    }

    #[test]
    fn computes_sha512_from_the_file() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("f"), b"abc").unwrap();
        let sha512 = hex::encode(sha2::Sha512::digest(b"abc"));
        let s = Subject {
            name: "f".into(),
            digest: [("sha512".to_string(), sha512)].into(),
        };
        let m = match_subjects(&[s], &outputs(&[("f", "whatever")]), d.path());
        assert!(m[0].matches, "{:?}", m[0]);
        let only_md5 = Subject {
            name: "f".into(),
            digest: [("md5".to_string(), "00".to_string())].into(),
        };
        let m = match_subjects(&[only_md5], &outputs(&[("f", "x")]), d.path());
        assert!(!m[0].matches);
        assert!(
            m[0].problem
                .as_deref()
                .unwrap()
                .contains("no digest repro can compute")
        );
    }
}
