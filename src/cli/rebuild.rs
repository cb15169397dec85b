//! `repro rebuild PROV`: re-run a recorded build with variations, compare with the published
//! subjects, and sign the verdict. The private key is read here, into this process only; the
//! builds get the source tar and nothing else.

use std::io::Read;
use std::path::PathBuf;

use clap::Args;

use super::{Output, UserError, parse_disk, parse_duration, parse_size};
use crate::attest::{self, PrivateKey, PublicKey};
use crate::check::CheckOptions;
use crate::compare;
use crate::provenance::{self, Provenance};
use crate::rebuild::{self, RebuildError, RebuildOptions, RebuildReport, statements};
use crate::report;
use crate::runner::{self, BackendKind};

/// How the runs are made: shared by `repro rebuild` and `repro build`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Stop a build after this long (e.g. 30m). build: default the recipe's; rebuild: the
    /// longest a recorded build may run, a longer or unlimited one is clamped (default 30m).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub timeout: Option<std::time::Duration>,
    /// Most a build may write outside its build directory: /tmp, /var/tmp, its home and the
    /// outputs, each a tmpfs of this size. build: default the recipe's (1G); rebuild: the most
    /// a recorded build may get, a larger one is clamped (default 4G).
    #[arg(long, value_name = "SIZE", value_parser = parse_disk)]
    pub disk: Option<u64>,
    /// Keep each run's outputs, log and spec in DIR/<run>/.
    #[arg(long, value_name = "DIR")]
    pub keep: Option<PathBuf>,
    /// Read build recipes from DIR instead of the built-in ones.
    #[arg(long, value_name = "DIR", env = "REPRO_REBUILDERS")]
    pub rebuilders: Option<PathBuf>,
    /// The dependency store (default: deps/ in repro's cache): a store someone else filled lets
    /// a rebuilder bring the files instead of the network; every digest is still checked.
    #[arg(long, value_name = "DIR")]
    pub deps_store: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct RebuildArgs {
    /// The provenance: a file, or `-` for stdin (statement, DSSE envelope, Sigstore bundle,
    /// or `.intoto.jsonl`).
    pub provenance: String,
    /// In a file with several provenance statements (`.intoto.jsonl`, PyPI provenance), the one
    /// with this subject (name or sha256).
    #[arg(long, value_name = "NAME|DIGEST")]
    pub subject: Option<String>,
    /// Verify the provenance's signature with this public key before anything else.
    #[arg(long, value_name = "PUB")]
    pub provenance_key: Option<PathBuf>,
    /// Or verify the provenance keylessly before anything else (--trusted-root and an
    /// identity policy).
    #[command(flatten)]
    pub keyless: super::keyless::KeylessArgs,
    /// A checkout of the recorded source (its commit must be the recorded one).
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub source: PathBuf,
    /// Use this image instead of the recorded builder image (recorded in the report and the
    /// attestation): one of ours (default, rust, go, node) or name@sha256:….
    #[arg(long, value_name = "REF")]
    pub image_override: Option<String>,
    /// Sign with this private key (PKCS#8 PEM, or cosign's encrypted key with its password in
    /// COSIGN_PASSWORD): needs -o, --bundle or --vsa.
    #[arg(long, value_name = "KEY")]
    pub key: Option<PathBuf>,
    /// Write the signed attestation (DSSE envelope) here when both verdicts hold.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Also write the attestation as a Sigstore bundle v0.3.
    #[arg(long, value_name = "FILE")]
    pub bundle: Option<PathBuf>,
    /// Also write a signed SLSA Verification Summary (v1).
    #[arg(long, value_name = "FILE")]
    pub vsa: Option<PathBuf>,
    /// On a failed verdict, sign an explicit FAILED attestation (and VSA) instead of nothing.
    #[arg(long)]
    pub attest_failure: bool,
    /// The id (a URI) the attestation and VSA give the rebuilder: yours.
    #[arg(long, value_name = "URI", default_value = statements::DEFAULT_REBUILDER_ID)]
    pub rebuilder_id: String,
    /// Write the JSON report to FILE, or to stdout with `-` (stdout then carries only JSON).
    #[arg(long, value_name = "FILE|-")]
    pub json: Option<String>,
    /// Write a Markdown report (for CI job summaries) to FILE.
    #[arg(long, value_name = "FILE")]
    pub markdown: Option<PathBuf>,
    /// Write a self-contained HTML report to FILE.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    #[command(flatten)]
    pub varied: super::check::VaryArgs,
    /// Leave outputs matching GLOB out of the across-runs verdict (never a subject); the
    /// attestation records them with their digests.
    #[arg(long, value_name = "GLOB")]
    pub exclude: Vec<String>,
    /// Builds culprit isolation may make when the runs differ (0: none; `repro check` explains
    /// differences in depth).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub isolate_budget: usize,
    /// Run the builds as plain processes on this machine (UNISOLATED): nothing is signed unless
    /// --allow-unisolated is given too.
    #[arg(long)]
    pub local: bool,
    /// Sign even though the builds ran on the local backend (recorded in the attestation).
    #[arg(long)]
    pub allow_unisolated: bool,
    /// Grant the network to a recorded build that asks for it (refused otherwise; recorded in
    /// the attestation).
    #[arg(long)]
    pub network: bool,
    /// Sign a PASSED verdict even though the builds had the network (recorded in the
    /// attestation).
    #[arg(long)]
    pub allow_non_hermetic: bool,
    /// Rebuild a provenance that says its outputs came from a working tree with uncommitted
    /// changes (`repro build --allow-dirty`): the commit is built, without them.
    #[arg(long)]
    pub allow_uncommitted: bool,
    /// The most memory a build may have: a recorded limit above it, or none (0), is clamped to
    /// it. --timeout is the longest a build may run, the same way (default 30m).
    #[arg(long, value_name = "SIZE", value_parser = parse_size, default_value = "4G")]
    pub memory: u64,
    #[command(flatten)]
    pub run: RunArgs,
}

/// Reads the provenance from a file or stdin; returns it with the input's sha256.
pub fn read_provenance(source: &str, select: Option<&str>) -> anyhow::Result<(Provenance, String)> {
    let bytes = read_input(source)?;
    let provenance = provenance::read(&bytes, select).map_err(|e| {
        if let provenance::ProvenanceError::UnknownPredicateType(uri) = &e {
            return UserError::new(
                format!(
                    "{source}: repro cannot re-run it: {}",
                    provenance::rerun::not_provenance(uri)
                ),
                Some("`repro inspect FILE` shows what it records"),
            );
        }
        let hint = matches!(
            e,
            provenance::ProvenanceError::SelectionRequired { .. }
                | provenance::ProvenanceError::Ambiguous { .. }
        )
        .then_some("pick one statement with --subject NAME|DIGEST");
        UserError::new(format!("{source}: {e}"), hint)
    })?;
    Ok((provenance, crate::compare::source::sha256_hex(&bytes)))
}

/// The bytes of a file, or of stdin for `-`.
pub(super) fn read_input(source: &str) -> anyhow::Result<Vec<u8>> {
    if source == "-" {
        let mut b = Vec::new();
        std::io::stdin().read_to_end(&mut b)?;
        Ok(b)
    } else {
        Ok(fs_err::read(source).map_err(|e| UserError::new(e.to_string(), None))?)
    }
}

/// Checks the provenance's signature as the options say (a key, keylessly, or not at all);
/// says how it was checked.
fn check_provenance_signature(
    p: &Provenance,
    args: &RebuildArgs,
) -> anyhow::Result<Option<attest::SignatureRecord>> {
    let keyless = args.keyless.load()?;
    match (&args.provenance_key, keyless) {
        (Some(_), Some(_)) => {
            Err(UserError::new("give --provenance-key or the keyless options, not both", None).into())
        }
        (Some(key), None) => Ok(Some(verify_provenance(p, key)?)),
        (None, Some(keyless)) => Ok(Some(verify_provenance_keyless(p, &keyless)?)),
        (None, None) => Ok(None),
    }
}

/// Checks the provenance keylessly: its certificate, logs and signer.
fn verify_provenance_keyless(
    p: &Provenance,
    keyless: &super::keyless::Keyless,
) -> anyhow::Result<attest::SignatureRecord> {
    let Some(signed) = p.signed() else {
        return Err(UserError::new(
            "the provenance is an unsigned statement, so it cannot be verified keylessly",
            Some("give the signed form (a Sigstore bundle), or drop the keyless options"),
        )
        .into());
    };
    let check = attest::check_keyless(&p.wrapper, &signed, keyless.trust()).map_err(|e| {
        let hint = if e.is_invalid() {
            "nothing was rebuilt: check the identity, the issuer and the trusted root"
        } else {
            "nothing was rebuilt"
        };
        let mut error = UserError::from_error(e, Some(hint.into()));
        error.message = format!(
            "the provenance's keyless signature does not verify: {}",
            error.message
        );
        error
    })?;
    Ok(attest::SignatureRecord::from(&check))
}

/// Checks the provenance envelope's signature with `key`; says how.
fn verify_provenance(p: &Provenance, key_path: &std::path::Path) -> anyhow::Result<attest::SignatureRecord> {
    let key = PublicKey::from_file(key_path)
        .map_err(|e| UserError::new(format!("cannot use the key {}: {e}", key_path.display()), None))?;
    let Some(envelope) = &p.envelope else {
        return Err(UserError::new(
            "the provenance is an unsigned statement, so --provenance-key cannot check it",
            Some("give the signed form (DSSE envelope or Sigstore bundle), or drop --provenance-key"),
        )
        .into());
    };
    let check = attest::verify_signed(envelope, p.signed_over, &key).map_err(|e| {
        UserError::new(
            format!(
                "the provenance's signature does not verify with {}: {e}",
                key_path.display()
            ),
            Some("nothing was rebuilt: check that the key is the builder's"),
        )
    })?;
    Ok(attest::SignatureRecord::from(&check))
}

/// Signing, decided before any build so that a bad key or a refused combination costs nothing.
pub(super) struct Signer {
    pub key: PrivateKey,
    pub path: PathBuf,
}

pub(super) fn load_signer(
    key: Option<&PathBuf>,
    wanted: bool,
    flags: &str,
) -> anyhow::Result<Option<Signer>> {
    match (key, wanted) {
        (None, false) => Ok(None),
        (None, true) => Err(UserError::new(
            format!("{flags} write signed files: give the signing key with --key"),
            Some("make one with `repro keygen --out PREFIX`"),
        )
        .into()),
        (Some(path), _) => {
            let key = PrivateKey::from_file(path).map_err(|e| {
                UserError::new(
                    format!("cannot use the signing key {}: {e}", path.display()),
                    None,
                )
            })?;
            Ok(Some(Signer {
                key,
                path: path.clone(),
            }))
        }
    }
}

pub fn run(args: RebuildArgs, out: &Output) -> anyhow::Result<i32> {
    let wants_signing = args.output.is_some() || args.bundle.is_some() || args.vsa.is_some();
    let signer = load_signer(args.key.as_ref(), wants_signing, "-o, --bundle and --vsa")?;
    if signer.is_some() && !wants_signing {
        return Err(UserError::new(
            "--key is given but nothing to sign into",
            Some("add -o FILE (the attestation), --bundle FILE and/or --vsa FILE"),
        )
        .into());
    }
    if signer.is_some() && args.local && !args.allow_unisolated {
        return Err(UserError::new(
            "refusing to sign a rebuild on the local backend: its builds are not isolated",
            Some("use the Docker backend, or add --allow-unisolated (recorded in the attestation)"),
        )
        .into());
    }
    super::check_output_paths(
        [&args.output, &args.bundle, &args.vsa, &args.markdown, &args.html]
            .into_iter()
            .flatten()
            .map(PathBuf::as_path)
            .chain(
                args.json
                    .as_deref()
                    .filter(|j| *j != "-")
                    .map(std::path::Path::new),
            ),
    )?;
    let (provenance, file_sha256) = read_provenance(&args.provenance, args.subject.as_deref())?;
    // The same reasons `repro inspect` gives; build types without a built-in recipe are left
    // to the recipes in rebuilders/.
    if let provenance::rerun::Rerun::Impossible(why) = provenance::rerun::rerun(&provenance) {
        return Err(UserError::new(
            format!("repro cannot re-run {}: {why}", args.provenance),
            Some("`repro inspect FILE` shows what it records"),
        )
        .into());
    }
    if signer.is_some() && args.network && !args.allow_non_hermetic && asks_for_network(&provenance, &args) {
        return Err(UserError::new(
            "refusing to sign a rebuild with the network: its builds are not hermetic",
            Some("drop -o/--bundle/--vsa, or add --allow-non-hermetic (recorded in the attestation)"),
        )
        .into());
    }
    let signature = check_provenance_signature(&provenance, &args)?;
    let check = CheckOptions {
        runs: args.varied.plan().0,
        variations: args.varied.plan().1,
        // The recorded limits are requests: the policy below grants them, clamped to these.
        timeout_secs: None,
        disk_bytes: None,
        keep: args.run.keep.clone(),
        recipes: args.run.rebuilders.clone(),
        deps_store: args.run.deps_store.clone(),
        compare: compare::Options::default(),
        isolate_budget: args.isolate_budget,
        ..CheckOptions::new(args.source.clone())
    };
    let opts = RebuildOptions {
        provenance,
        provenance_file_sha256: file_sha256,
        provenance_signature: signature,
        source: args.source.clone(),
        image_override: args.image_override.clone(),
        exclude: args.exclude.clone(),
        allow_unisolated: args.allow_unisolated,
        policy: rebuild::policy::Policy {
            network: args.network,
            max_timeout_secs: args
                .run
                .timeout
                .map_or(rebuild::policy::DEFAULT_MAX_TIMEOUT_SECS, |d| d.as_secs().max(1)),
            max_memory_bytes: args.memory,
            max_disk_bytes: args.run.disk.unwrap_or(rebuild::policy::DEFAULT_MAX_DISK_BYTES),
        },
        allow_non_hermetic: args.allow_non_hermetic,
        allow_uncommitted: args.allow_uncommitted,
        check,
    };
    let backend = runner::backend(if args.local {
        BackendKind::Local
    } else {
        BackendKind::Docker
    });
    let result = super::run_builds(out.verbose, backend.as_ref(), |log_lines, progress| {
        let mut opts = opts;
        opts.check.log_lines = log_lines;
        rebuild::rebuild(opts, backend.clone(), progress)
    })?;
    let report = match result {
        None => return Ok(130),
        Some(Err(e)) => return Err(rebuild_error(e)),
        Some(Ok(r)) => r,
    };
    let signed = match &signer {
        Some(s) => sign(&report, s, &args)?,
        None => Vec::new(),
    };
    let json_only = args.json.as_deref() == Some("-");
    if let Some(target) = &args.json {
        let j = report::rebuild::json(&report, &signed);
        if json_only {
            out.stdout(&j)?;
        } else {
            fs_err::write(target, j)?;
        }
    }
    if let Some(path) = &args.markdown {
        fs_err::write(path, report::rebuild::markdown(&report, &signed))?;
    }
    if let Some(path) = &args.html {
        fs_err::write(path, report::html::rebuild(&report, &signed))?;
    }
    if !json_only {
        out.stdout(&report::rebuild::text(&report, &signed, out.text_options()))?;
    }
    if signer.is_some() && signed.is_empty() {
        eprintln!("repro: nothing was signed: the rebuild FAILED (--attest-failure signs a FAILED verdict)");
    }
    Ok(if report.passed() { 0 } else { 1 })
}

/// Whether the recorded build asks for the network (false when it cannot be read: the rebuild
/// then says why).
fn asks_for_network(p: &Provenance, args: &RebuildArgs) -> bool {
    crate::recipe::load(args.run.rebuilders.as_deref())
        .ok()
        .and_then(|recipes| rebuild::recorded::recorded(p, &recipes).ok())
        .is_some_and(|r| r.build.network)
}

/// Signs what the arguments ask for and writes it; returns (kind, path) of each file written.
fn sign(report: &RebuildReport, s: &Signer, args: &RebuildArgs) -> anyhow::Result<Vec<(String, String)>> {
    let signing = statements::RebuildSigning {
        key: &s.key,
        rebuilder_id: &args.rebuilder_id,
        attestation: args.output.is_some(),
        bundle: args.bundle.is_some(),
        vsa_provenance_uri: args.vsa.as_ref().map(|_| {
            if args.provenance == "-" {
                "(stdin)".to_string()
            } else {
                args.provenance.clone()
            }
        }),
        attest_failure: args.attest_failure,
    };
    let Some(signed) = statements::sign_rebuild(report, &signing)
        .map_err(|e| UserError::new(format!("signing with {}: {e}", s.path.display()), None))?
    else {
        return Ok(Vec::new());
    };
    let mut written = Vec::new();
    for (kind, path, text) in [
        ("attestation", &args.output, signed.attestation),
        ("bundle", &args.bundle, signed.bundle),
        ("vsa", &args.vsa, signed.vsa),
    ] {
        if let (Some(path), Some(text)) = (path, text) {
            super::write_file(path, text.as_bytes())?;
            written.push((kind.to_string(), path.display().to_string()));
        }
    }
    Ok(written)
}

pub(super) fn rebuild_error(e: RebuildError) -> anyhow::Error {
    let hint = e.hint();
    UserError::from_error(e, hint).into()
}
