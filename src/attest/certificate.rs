//! Reading (never verifying) an X.509 certificate's fields that say whose it is: the public key
//! it carries, its subject alternative names and the Fulcio issuer extension. Verification of a
//! certificate — its chain, validity and identity policy — is keyless verification's job.

use p256::pkcs8::der::asn1::{AnyRef, ObjectIdentifier};
use p256::pkcs8::der::{Decode as _, Encode as _, Tag, Tagged as _};

use super::key_file::{sequence_items, sequence_items_of};

const SUBJECT_ALT_NAME: &str = "2.5.29.17";
/// Fulcio's issuer extension: the OIDC issuer, as a DER UTF8String (current certificates).
const FULCIO_ISSUER_V2: &str = "1.3.6.1.4.1.57264.1.8";
/// The older issuer extension, the issuer's raw bytes (deprecated, still in old certificates).
const FULCIO_ISSUER_V1: &str = "1.3.6.1.4.1.57264.1.1";

/// What a certificate says about whom it was issued to. Read, not verified.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CertificateIdentity {
    /// Subject alternative names: URIs (a workflow), e-mail addresses, DNS names, in order.
    pub identities: Vec<String>,
    /// The OIDC issuer Fulcio recorded (`https://token.actions.githubusercontent.com`).
    pub issuer: Option<String>,
    /// The algorithm of the key it carries, named (`ECDSA P-256`).
    pub key_algorithm: Option<String>,
}

/// The TBSCertificate's elements, with the optional `[0] version` skipped so that indices are
/// fixed: serial, signature, issuer, validity, subject, subjectPublicKeyInfo, then the optional
/// tagged ones.
fn tbs_items(der: &[u8]) -> Option<Vec<AnyRef<'_>>> {
    let certificate = sequence_items(der)?;
    let tbs = certificate.first().filter(|t| t.tag() == Tag::Sequence)?;
    let mut items = sequence_items_of(tbs.value())?;
    if items
        .first()
        .is_some_and(|v| matches!(v.tag(), Tag::ContextSpecific { number, .. } if number.value() == 0))
    {
        items.remove(0);
    }
    Some(items)
}

/// The DER of the SubjectPublicKeyInfo a certificate carries; `None` if it is not a certificate.
pub fn public_key_der(der: &[u8]) -> Option<Vec<u8>> {
    let items = tbs_items(der)?;
    let spki = items.get(5).filter(|s| s.tag() == Tag::Sequence)?;
    spki.to_der().ok()
}

/// The identity fields of a DER certificate; `None` if it is not a certificate.
pub fn identity(der: &[u8]) -> Option<CertificateIdentity> {
    let items = tbs_items(der)?;
    let key_algorithm = super::key_file::spki_algorithm(&public_key_der(der)?);
    let mut id = CertificateIdentity {
        key_algorithm,
        ..CertificateIdentity::default()
    };
    let extensions = items
        .iter()
        .find(|v| matches!(v.tag(), Tag::ContextSpecific { number, .. } if number.value() == 3));
    let Some(extensions) = extensions else {
        return Some(id);
    };
    let (mut v1_issuer, mut v2_issuer) = (None, None);
    for extension in sequence_items(extensions.value()).unwrap_or_default() {
        // Extension ::= SEQUENCE { extnID OID, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING }
        let Some(parts) = sequence_items_of(extension.value()) else {
            continue;
        };
        let Some(oid) = parts.first().and_then(|o| o.decode_as::<ObjectIdentifier>().ok()) else {
            continue;
        };
        let Some(value) = parts.last().filter(|v| v.tag() == Tag::OctetString) else {
            continue;
        };
        match oid.to_string().as_str() {
            SUBJECT_ALT_NAME => id.identities = general_names(value.value()),
            FULCIO_ISSUER_V2 => {
                v2_issuer = AnyRef::from_der(value.value())
                    .ok()
                    .filter(|s| s.tag() == Tag::Utf8String)
                    .and_then(|s| text(s.value()));
            }
            FULCIO_ISSUER_V1 => v1_issuer = text(value.value()),
            _ => {}
        }
    }
    id.issuer = v2_issuer.or(v1_issuer);
    Some(id)
}

/// The e-mail (`[1]`), DNS (`[2]`) and URI (`[6]`) names of a GeneralNames sequence.
fn general_names(der: &[u8]) -> Vec<String> {
    sequence_items(der)
        .unwrap_or_default()
        .iter()
        .filter(|name| {
            matches!(name.tag(), Tag::ContextSpecific { constructed: false, number } if [1, 2, 6].contains(&number.value()))
        })
        .filter_map(|name| text(name.value()))
        .collect()
}

fn text(bytes: &[u8]) -> Option<String> {
    std::str::from_utf8(bytes).ok().map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Fulcio certificate of the PEP 740 attestation in the shared fixtures.
    fn pep740_certificate() -> Option<Vec<u8>> {
        let text = crate::shared_fixtures::read(
            "provenance/trailofbits+pypi-attestations/test/assets/rfc8785-0.1.2-py3-none-any.whl.attestation",
        )?;
        let value: serde_json::Value = serde_json::from_slice(&text).unwrap();
        let b64 = value["verification_material"]["certificate"].as_str().unwrap();
        Some(crate::intoto::decode_base64(b64, "certificate").unwrap())
    }

    #[test]
    fn a_fulcio_certificate_names_its_identity_and_issuer() {
        let Some(der) = pep740_certificate() else { return };
        let id = identity(&der).unwrap();
        assert_eq!(id.identities, ["william@yossarian.net"]);
        assert_eq!(id.issuer.as_deref(), Some("https://github.com/login/oauth"));
        assert_eq!(id.key_algorithm.as_deref(), Some("ECDSA P-256"));
        // Given as a key, it is refused with what it is and what checks a certificate.
        use base64::Engine as _;
        let pem = format!(
            "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
            base64::engine::general_purpose::STANDARD.encode(&der)
        );
        let err = crate::attest::PublicKey::from_pem(&pem).unwrap_err().to_string();
        assert!(err.contains("X.509 certificate, not a public key"), "{err}");
        assert!(err.contains("keyless verification"), "{err}");
        // Every truncation reads as something or nothing, never a panic.
        for len in 0..der.len() {
            let _ = identity(&der[..len]);
        }
    }

    #[test]
    fn non_certificates_read_as_none() {
        for junk in [&b""[..], b"\x30\x00", b"\x30\x02\x30\x00", &[0x30; 50]] {
            assert_eq!(public_key_der(junk), None);
            assert_eq!(identity(junk), None);
        }
    }
}
