//! PEP 740 attestation objects (what PyPI serves for a file, and what `pypi-attestations`
//! writes): a Sigstore bundle in other clothes. `{version: 1, verification_material:
//! {certificate, transparency_entries}, envelope: {statement, signature}}` holds the same
//! certificate, Rekor entries and DSSE signature over an in-toto statement as a v0.3 bundle, so
//! it is verified by rewriting it as one.

use serde_json::{Value, json};

use super::KeylessError;

/// The DSSE payload type of a PEP 740 envelope: always an in-toto statement.
const INTOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";
const BUNDLE_V03: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";

/// Whether `value` looks like a PEP 740 attestation object.
pub fn is_pep740_attestation(value: &Value) -> bool {
    value.get("verification_material").is_some() && value.get("envelope").is_some()
}

/// Rewrites a PEP 740 attestation object as the Sigstore bundle v0.3 it stands for. Nothing
/// is decoded or re-encoded: the base64 texts are carried over as they are.
pub fn pep740_to_bundle(attestation: &Value) -> Result<Value, KeylessError> {
    let text = |value: &Value, field: &str| -> Result<Value, KeylessError> {
        match value.get(field) {
            Some(Value::String(text)) => Ok(Value::String(text.clone())),
            Some(_) => Err(missing(&format!("{field} is not a string"))),
            None => Err(missing(&format!("{field} is missing"))),
        }
    };
    if let Some(version) = attestation.get("version")
        && version != &json!(1)
    {
        return Err(missing(&format!("version is {version}, only 1 is known")));
    }
    let material = attestation
        .get("verification_material")
        .ok_or_else(|| missing("verification_material is missing"))?;
    let envelope = attestation
        .get("envelope")
        .ok_or_else(|| missing("envelope is missing"))?;
    let entries = match material.get("transparency_entries") {
        Some(entries @ Value::Array(_)) => entries.clone(),
        Some(_) => return Err(missing("transparency_entries is not a list")),
        None => return Err(missing("transparency_entries is missing")),
    };
    Ok(json!({
        "mediaType": BUNDLE_V03,
        "verificationMaterial": {
            "certificate": { "rawBytes": text(material, "certificate")? },
            "tlogEntries": entries,
        },
        "dsseEnvelope": {
            "payload": text(envelope, "statement")?,
            "payloadType": INTOTO_PAYLOAD_TYPE,
            "signatures": [{ "sig": text(envelope, "signature")? }],
        },
    }))
}

fn missing(what: &str) -> KeylessError {
    KeylessError::Malformed(format!("not a PEP 740 attestation: {what}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_attestations_name_the_field() {
        let cases = [
            (json!({}), "verification_material"),
            (
                json!({"version": 2, "verification_material": {}, "envelope": {}}),
                "version",
            ),
            (
                json!({"verification_material": {}, "envelope": {}}),
                "transparency_entries",
            ),
            (
                json!({"verification_material": {"transparency_entries": []}, "envelope": {}}),
                "certificate",
            ),
            (
                json!({"verification_material": {"certificate": 1, "transparency_entries": []}, "envelope": {}}),
                "certificate",
            ),
            (
                json!({"verification_material": {"certificate": "x", "transparency_entries": []}, "envelope": {"signature": "s"}}),
                "statement",
            ),
        ];
        for (value, field) in cases {
            let err = pep740_to_bundle(&value).unwrap_err();
            assert!(err.to_string().contains(field), "{value}: {err}");
        }
    }
}
