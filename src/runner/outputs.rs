//! A run's outputs as the tar stream the entry script wrote (`outputs.tar`): the local backend
//! leaves it as is, the engine hands back its archive of `/out`, which wraps it.

use std::io::Read;
use std::path::Component;

use super::RunResult;

#[derive(Debug, thiserror::Error)]
pub enum OutputsError {
    #[error("reading the outputs archive")]
    Read(#[source] std::io::Error),
    #[error("the outputs archive has no {0}")]
    Missing(String),
}

impl RunResult {
    /// Hands the run's `outputs.tar` stream to `read`; `None` when the run brought none back
    /// (it failed, or ran past its timeout).
    pub fn with_outputs<T, E: From<OutputsError>>(
        &self,
        read: impl FnOnce(&mut dyn Read) -> Result<T, E>,
    ) -> Option<Result<T, E>> {
        let archive = self.outputs_archive.as_ref()?;
        let file = match std::fs::File::open(archive) {
            Ok(f) => std::io::BufReader::new(f),
            Err(e) => return Some(Err(OutputsError::Read(e).into())),
        };
        Some(if self.outputs_wrapped {
            with_member(file, "outputs.tar", read)
        } else {
            read(&mut { file })
        })
    }
}

/// From the archive the engine returns for `/out` (which wraps our files), finds
/// `out/<member>` and hands its reader to `f`.
pub fn with_member<R: Read, T, E: From<OutputsError>>(
    archive: R,
    member: &str,
    f: impl FnOnce(&mut dyn Read) -> Result<T, E>,
) -> Result<T, E> {
    let read = |e| E::from(OutputsError::Read(e));
    let mut a = tar::Archive::new(archive);
    for entry in a.entries().map_err(read)? {
        let mut entry = entry.map_err(read)?;
        let path = entry.path().map_err(read)?.into_owned();
        let mut comps = path.components().filter(|c| matches!(c, Component::Normal(_)));
        let (_, Some(second), None) = (comps.next(), comps.next(), comps.next()) else {
            continue;
        };
        if second.as_os_str() == member {
            return f(&mut entry);
        }
    }
    Err(OutputsError::Missing(member.to_string()).into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_of(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, data) in files {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            b.append_data(&mut h, name, *data).unwrap();
        }
        b.into_inner().unwrap()
    }

    #[test]
    fn finds_a_member_of_the_wrapping_archive() {
        let inner = tar_of(&[("x", b"1")]);
        let outer = tar_of(&[("out/exit-status", b"0\n"), ("out/outputs.tar", &inner)]);
        let status = with_member(&outer[..], "exit-status", |r| {
            let mut s = String::new();
            r.read_to_string(&mut s).map_err(OutputsError::Read)?;
            Ok::<_, OutputsError>(s)
        })
        .unwrap();
        assert_eq!(status, "0\n");
        assert!(matches!(
            with_member(&outer[..], "nope", |_| Ok::<_, OutputsError>(())),
            Err(OutputsError::Missing(_))
        ));
        assert!(matches!(
            with_member(&b"garbage that is not a tar"[..], "x", |_| Ok::<_, OutputsError>(
                ()
            )),
            Err(OutputsError::Read(_) | OutputsError::Missing(_))
        ));
    }

    #[test]
    fn reads_wrapped_and_plain_outputs_alike() {
        let d = tempfile::tempdir().unwrap();
        let inner = tar_of(&[("x", b"1")]);
        std::fs::write(d.path().join("plain.tar"), &inner).unwrap();
        std::fs::write(
            d.path().join("wrapped.tar"),
            tar_of(&[("out/outputs.tar", &inner)]),
        )
        .unwrap();
        let result = |archive: Option<&str>, wrapped: bool| RunResult {
            exit_code: 0,
            timed_out: false,
            duration: std::time::Duration::ZERO,
            log_path: d.path().join("log"),
            log_tail: Vec::new(),
            outputs_archive: archive.map(|a| d.path().join(a)),
            outputs_wrapped: wrapped,
            container_env: Vec::new(),
            container_mounts: Vec::new(),
            overhead: std::time::Duration::ZERO,
            filled: Vec::new(),
            placement: None,
        };
        let len = |r: &mut dyn Read| {
            let mut v = Vec::new();
            r.read_to_end(&mut v).map_err(OutputsError::Read)?;
            Ok::<_, OutputsError>(v.len())
        };
        let plain = result(Some("plain.tar"), false)
            .with_outputs(len)
            .unwrap()
            .unwrap();
        let wrapped = result(Some("wrapped.tar"), true)
            .with_outputs(len)
            .unwrap()
            .unwrap();
        assert_eq!((plain, wrapped), (inner.len(), inner.len()));
        assert!(result(None, true).with_outputs(len).is_none());
        assert!(
            result(Some("absent.tar"), false)
                .with_outputs(len)
                .unwrap()
                .is_err()
        );
    }
}
