//! Sigstore bundles: a DSSE envelope with the material that verifies it (a public key hint, or
//! a certificate and transparency-log entries), kept as read for the verifiers.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use super::dsse::{Envelope, decode_base64, serialize_base64};
use super::fields::Obj;
use super::{FormatError, fields};

/// The media type repro writes: bundle v0.3.
pub const BUNDLE_MEDIA_TYPE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";

/// A Sigstore bundle around a DSSE envelope.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Bundle {
    #[serde(rename = "mediaType")]
    pub media_type: String,
    #[serde(rename = "verificationMaterial")]
    pub verification_material: VerificationMaterial,
    #[serde(rename = "dsseEnvelope")]
    pub dsse_envelope: Envelope,
}

/// What verifies a bundle's signature: a plain key (by its hint), or a Fulcio certificate
/// (v0.3) or certificate chain (v0.1, v0.2) with transparency-log entries and timestamps.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VerificationMaterial {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key: Option<PublicKeyHint>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<RawBytes>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x509_certificate_chain: Option<CertificateChain>,
    /// Transparency-log entries, as read: the keyless verifier interprets them.
    #[serde(default)]
    pub tlog_entries: Vec<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp_verification_data: Option<Value>,
}

/// `publicKey.hint`: standard base64 of the sha256 of the key's SPKI DER (a hint only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicKeyHint {
    #[serde(default)]
    pub hint: String,
}

/// A DER certificate, `{"rawBytes": base64}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RawBytes {
    #[serde(
        rename = "rawBytes",
        serialize_with = "serialize_base64",
        deserialize_with = "deserialize_base64"
    )]
    pub raw_bytes: Vec<u8>,
}

/// `x509CertificateChain`: the leaf first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateChain {
    #[serde(default)]
    pub certificates: Vec<RawBytes>,
}

fn deserialize_base64<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
    let text = String::deserialize(d)?;
    decode_base64(&text, "rawBytes").map_err(serde::de::Error::custom)
}

impl Bundle {
    /// Whether a document is meant as a bundle (it then has to read as one).
    pub fn is_bundle(value: &Value) -> bool {
        value.get("mediaType").is_some() || value.get("dsseEnvelope").is_some()
    }

    /// Reads a bundle of any v0.x media type; errors name the field.
    pub fn from_value(value: &Value) -> Result<Bundle, FormatError> {
        let top = Obj::new(value, "")?;
        let media_type = top.str("mediaType")?;
        if !is_bundle_media_type(media_type) {
            return Err(FormatError::UnknownBundleMediaType(media_type.to_string()));
        }
        let dsse_envelope = Envelope::from_value(top.req("dsseEnvelope")?, "dsseEnvelope")?;
        let verification_material = match top.opt("verificationMaterial") {
            None => VerificationMaterial::default(),
            Some(material) => VerificationMaterial::deserialize(material)
                .map_err(|e| fields::invalid("verificationMaterial", e.to_string()))?,
        };
        Ok(Bundle {
            media_type: media_type.to_string(),
            verification_material,
            dsse_envelope,
        })
    }

    /// A v0.3 bundle verified by a plain key, with no transparency-log entries.
    pub fn with_public_key(dsse_envelope: Envelope, hint: String) -> Bundle {
        Bundle {
            media_type: BUNDLE_MEDIA_TYPE.to_string(),
            verification_material: VerificationMaterial {
                public_key: Some(PublicKeyHint { hint }),
                ..VerificationMaterial::default()
            },
            dsse_envelope,
        }
    }

    /// The bundle as JSON, keys sorted as repro has always written it.
    pub fn to_json(&self) -> String {
        // Strings, byte vectors and JSON values always serialise.
        super::sorted_json(self).unwrap_or_default()
    }
}

/// `application/vnd.dev.sigstore.bundle.v0.N+json`, or the older
/// `application/vnd.dev.sigstore.bundle+json;version=0.N`.
fn is_bundle_media_type(media_type: &str) -> bool {
    let minor = media_type
        .strip_prefix("application/vnd.dev.sigstore.bundle.v0.")
        .and_then(|rest| rest.strip_suffix("+json"))
        .or_else(|| media_type.strip_prefix("application/vnd.dev.sigstore.bundle+json;version=0."));
    minor.is_some_and(|m| !m.is_empty() && m.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intoto::Signature;

    #[test]
    fn bundle_media_types() {
        assert!(is_bundle_media_type(BUNDLE_MEDIA_TYPE));
        assert!(is_bundle_media_type(
            "application/vnd.dev.sigstore.bundle+json;version=0.1"
        ));
        for foreign in [
            "application/vnd.dev.sigstore.bundle.v0.+json",
            "application/vnd.dev.sigstore.bundle.v1.0+json",
            "application/vnd.dev.sigstore.bundle+json;version=0.3x",
            "application/json",
        ] {
            assert!(!is_bundle_media_type(foreign), "{foreign}");
        }
    }

    fn envelope() -> Envelope {
        Envelope {
            payload: b"{}".to_vec(),
            payload_type: crate::intoto::PAYLOAD_TYPE.into(),
            signatures: vec![Signature {
                keyid: None,
                sig: vec![0x30],
            }],
        }
    }

    #[test]
    fn a_key_bundle_is_written_as_before_and_reads_back() {
        let bundle = Bundle::with_public_key(envelope(), "aGludA==".into());
        let text = bundle.to_json();
        assert_eq!(
            text,
            r#"{"dsseEnvelope":{"payload":"e30=","payloadType":"application/vnd.in-toto+json","signatures":[{"sig":"MA=="}]},"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","verificationMaterial":{"publicKey":{"hint":"aGludA=="},"tlogEntries":[]}}"#
        );
        let value: Value = serde_json::from_str(&text).unwrap();
        assert!(Bundle::is_bundle(&value));
        assert_eq!(Bundle::from_value(&value).unwrap(), bundle);
    }

    #[test]
    fn keyless_material_is_kept() {
        let value = serde_json::json!({
            "mediaType": "application/vnd.dev.sigstore.bundle+json;version=0.2",
            "verificationMaterial": {
                "x509CertificateChain": { "certificates": [{ "rawBytes": "MIIC" }] },
                "tlogEntries": [{ "logIndex": "1", "kindVersion": { "kind": "dsse", "version": "0.0.1" } }],
                "timestampVerificationData": { "rfc3161Timestamps": [] },
            },
            "dsseEnvelope": serde_json::to_value(envelope()).unwrap(),
        });
        let bundle = Bundle::from_value(&value).unwrap();
        let material = &bundle.verification_material;
        let chain = material.x509_certificate_chain.as_ref().unwrap();
        assert_eq!(chain.certificates[0].raw_bytes, [0x30, 0x82, 0x02]);
        assert_eq!(material.tlog_entries[0]["logIndex"], "1");
        assert!(material.timestamp_verification_data.is_some());
        assert!(material.public_key.is_none() && material.certificate.is_none());
    }

    #[test]
    fn malformed_bundles_name_the_field() {
        let err = |value: Value| Bundle::from_value(&value).unwrap_err().to_string();
        let envelope = serde_json::to_value(envelope()).unwrap();
        assert_eq!(
            err(serde_json::json!({ "dsseEnvelope": envelope })),
            "`mediaType` is missing"
        );
        assert_eq!(
            err(serde_json::json!({ "mediaType": "application/json", "dsseEnvelope": envelope })),
            "unknown Sigstore bundle media type `application/json`"
        );
        assert_eq!(
            err(serde_json::json!({ "mediaType": BUNDLE_MEDIA_TYPE })),
            "`dsseEnvelope` is missing"
        );
        assert!(
            err(serde_json::json!({
                "mediaType": BUNDLE_MEDIA_TYPE,
                "dsseEnvelope": envelope,
                "verificationMaterial": { "certificate": { "rawBytes": "%%" } },
            }))
            .starts_with("`verificationMaterial` is invalid")
        );
    }
}
