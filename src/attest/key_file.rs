//! Key files as people have them: PEM read leniently (a body on one line, as npm publishes its
//! key; CRLF; whitespace around it; or the bare base64 of the DER), and what a file holds named
//! when it is not a key repro can use — the algorithm of another key, a certificate given where
//! a key is wanted, a private key given where a public one is.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_PAD_INDIFFERENT;
use p256::pkcs8::der::asn1::{AnyRef, ObjectIdentifier};
use p256::pkcs8::der::{Decode as _, Reader as _, SliceReader, Tag, Tagged as _};
use p256::pkcs8::spki::SubjectPublicKeyInfoRef;
use zeroize::Zeroizing;

/// One PEM block: its label (`PUBLIC KEY`; empty for bare base64) and the decoded DER, which
/// may be secret and is zeroised on drop.
pub(super) struct Pem {
    pub label: String,
    pub der: Zeroizing<Vec<u8>>,
}

/// Why a file's text is not PEM.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(super) enum PemError {
    #[error("no PEM block (`-----BEGIN …-----`) and not base64 either")]
    NotPem,
    #[error("the PEM block `{0}` has no matching `-----END {0}-----` line")]
    Unterminated(String),
    #[error("the body of the PEM block `{0}` is not valid base64")]
    Base64(String),
    #[error(
        "the PEM block `{0}` has headers (`Proc-Type`, `DEK-Info`): an OpenSSL-encrypted key, \
         which repro does not read; decrypt it with `openssl pkey`"
    )]
    Headers(String),
}

/// Reads the first PEM block of `text`, whatever its line endings and however its body is
/// wrapped; a text with no block at all is read as the base64 of a DER document.
pub(super) fn parse(text: &str) -> Result<Pem, PemError> {
    let text = text.trim_start_matches('\u{feff}').trim();
    let Some(start) = text.find("-----BEGIN ") else {
        return decode_body(text, "").map_err(|_| PemError::NotPem);
    };
    let after = &text[start + "-----BEGIN ".len()..];
    let label_end = after.find("-----").ok_or(PemError::NotPem)?;
    let label = after[..label_end].trim().to_string();
    let body_and_rest = &after[label_end + "-----".len()..];
    let end_marker = format!("-----END {label}-----");
    let body_end = body_and_rest
        .find(&end_marker)
        .ok_or_else(|| PemError::Unterminated(label.clone()))?;
    let body = &body_and_rest[..body_end];
    if body.lines().any(|line| line.contains(':')) {
        return Err(PemError::Headers(label));
    }
    decode_body(body, &label).map_err(|_| PemError::Base64(label))
}

fn decode_body(body: &str, label: &str) -> Result<Pem, base64::DecodeError> {
    let compact: Zeroizing<String> = Zeroizing::new(body.chars().filter(|c| !c.is_whitespace()).collect());
    if compact.is_empty() {
        return Err(base64::DecodeError::InvalidLength(0));
    }
    Ok(Pem {
        label: label.to_string(),
        der: Zeroizing::new(STANDARD_PAD_INDIFFERENT.decode(compact.as_bytes())?),
    })
}

const EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";

/// The name of a key algorithm, from its OID and (for elliptic curves) the curve's OID.
pub(super) fn algorithm_name(algorithm: &str, curve: Option<&str>) -> String {
    let known = match algorithm {
        "1.2.840.113549.1.1.1" => Some("RSA"),
        "1.2.840.113549.1.1.10" => Some("RSA-PSS"),
        "1.2.840.10040.4.1" => Some("DSA"),
        "1.3.101.110" => Some("X25519"),
        "1.3.101.111" => Some("X448"),
        "1.3.101.112" => Some("Ed25519"),
        "1.3.101.113" => Some("Ed448"),
        _ => None,
    };
    if let Some(name) = known {
        return name.to_string();
    }
    if algorithm != EC_PUBLIC_KEY {
        return format!("the algorithm with OID {algorithm}");
    }
    let curve_name = curve.and_then(|c| match c {
        "1.2.840.10045.3.1.1" => Some("P-192"),
        "1.3.132.0.33" => Some("P-224"),
        "1.2.840.10045.3.1.7" => Some("P-256"),
        "1.3.132.0.34" => Some("P-384"),
        "1.3.132.0.35" => Some("P-521"),
        "1.3.132.0.10" => Some("secp256k1"),
        "1.3.36.3.3.2.8.1.1.7" => Some("brainpoolP256r1"),
        "1.3.36.3.3.2.8.1.1.11" => Some("brainpoolP384r1"),
        "1.3.36.3.3.2.8.1.1.13" => Some("brainpoolP512r1"),
        "1.2.156.10197.1.301" => Some("SM2"),
        _ => None,
    });
    match (curve_name, curve) {
        (Some(name), _) => format!("ECDSA {name}"),
        (None, Some(oid)) => format!("ECDSA on the curve with OID {oid}"),
        (None, None) => "ECDSA on an unnamed curve".to_string(),
    }
}

/// The algorithm of a SubjectPublicKeyInfo, named; `None` when the DER is not one.
pub(super) fn spki_algorithm(der: &[u8]) -> Option<String> {
    let spki = SubjectPublicKeyInfoRef::from_der(der).ok()?;
    let curve = spki
        .algorithm
        .parameters
        .and_then(|p| p.decode_as::<ObjectIdentifier>().ok())
        .map(|oid| oid.to_string());
    Some(algorithm_name(&spki.algorithm.oid.to_string(), curve.as_deref()))
}

/// The algorithm of a PKCS#8 PrivateKeyInfo (v1 or v2), named; `None` when the DER is not one.
/// Read by walking the structure, so that an algorithm no crate here knows is still named.
pub(super) fn pkcs8_algorithm(der: &[u8]) -> Option<String> {
    // PrivateKeyInfo ::= SEQUENCE { version INTEGER, algorithm AlgorithmIdentifier, … }
    let items = sequence_items(der)?;
    let algorithm = items.get(1).filter(|a| a.tag() == Tag::Sequence)?;
    let parts = sequence_items_of(algorithm.value())?;
    let oid = parts.first()?.decode_as::<ObjectIdentifier>().ok()?;
    let curve = parts
        .get(1)
        .and_then(|p| p.decode_as::<ObjectIdentifier>().ok())
        .map(|o| o.to_string());
    Some(algorithm_name(&oid.to_string(), curve.as_deref()))
}

/// The curve of a SEC1 `EC PRIVATE KEY`, named; `None` when the DER is not one or names none.
pub(super) fn sec1_algorithm(der: &[u8]) -> Option<String> {
    // ECPrivateKey ::= SEQUENCE { version, privateKey OCTET STRING, [0] parameters OID, … }
    let items = sequence_items(der)?;
    let params = items
        .iter()
        .find(|item| matches!(item.tag(), Tag::ContextSpecific { number, .. } if number.value() == 0))?;
    let curve: ObjectIdentifier = ObjectIdentifier::from_der(params.value()).ok()?;
    Some(algorithm_name(EC_PUBLIC_KEY, Some(&curve.to_string())))
}

/// The elements of the DER SEQUENCE `der`.
pub(super) fn sequence_items(der: &[u8]) -> Option<Vec<AnyRef<'_>>> {
    let outer = AnyRef::from_der(der).ok().filter(|a| a.tag() == Tag::Sequence)?;
    sequence_items_of(outer.value())
}

/// The TLVs that make up `content` (a constructed value's content).
pub(super) fn sequence_items_of(content: &[u8]) -> Option<Vec<AnyRef<'_>>> {
    let mut reader = SliceReader::new(content).ok()?;
    let mut items = Vec::new();
    while !reader.is_finished() {
        items.push(AnyRef::decode(&mut reader).ok()?);
    }
    Some(items)
}

#[cfg(test)]
mod tests {
    use super::*;

    const P256_SPKI_PEM: &str = "-----BEGIN PUBLIC KEY-----\n\
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEeGa6ZCZn0q6WpaUwJrSk+PPYEsca\n\
3Xkk3UrxvbQtoZzTmq0zIYq+4QQl0YBedSyy+XcwAMaUWTouTrB05WhYtg==\n\
-----END PUBLIC KEY-----";

    #[test]
    fn pem_is_read_however_it_is_wrapped() {
        let canonical = parse(P256_SPKI_PEM).unwrap();
        assert_eq!(canonical.label, "PUBLIC KEY");
        let body: String = P256_SPKI_PEM
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect();
        for text in [
            format!("-----BEGIN PUBLIC KEY-----\n{body}\n-----END PUBLIC KEY-----\n"),
            format!("-----BEGIN PUBLIC KEY-----{body}-----END PUBLIC KEY-----"),
            P256_SPKI_PEM.replace('\n', "\r\n"),
            format!("\u{feff}\n\n  {P256_SPKI_PEM}\n\n\t"),
            format!("{body}\n"),
        ] {
            let pem = parse(&text).unwrap();
            assert_eq!(*pem.der, *canonical.der, "{text:?}");
        }
    }

    #[test]
    fn malformed_pem_says_what_is_wrong() {
        assert_eq!(parse("").err(), Some(PemError::NotPem));
        assert_eq!(parse("hello, world").err(), Some(PemError::NotPem));
        assert_eq!(
            parse("-----BEGIN PUBLIC KEY-----\nAAAA\n").err(),
            Some(PemError::Unterminated("PUBLIC KEY".into()))
        );
        assert_eq!(
            parse("-----BEGIN PUBLIC KEY-----\n%%%%\n-----END PUBLIC KEY-----").err(),
            Some(PemError::Base64("PUBLIC KEY".into()))
        );
        assert_eq!(
            parse("-----BEGIN PUBLIC KEY----------END PUBLIC KEY-----").err(),
            Some(PemError::Base64("PUBLIC KEY".into()))
        );
        assert!(matches!(
            parse(
                "-----BEGIN EC PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n\nAAAA\n-----END EC PRIVATE KEY-----"
            ),
            Err(PemError::Headers(_))
        ));
        assert_eq!(parse("-----BEGIN ").err(), Some(PemError::NotPem));
    }

    #[test]
    fn algorithms_are_named() {
        let der = parse(P256_SPKI_PEM).unwrap().der;
        assert_eq!(spki_algorithm(&der).as_deref(), Some("ECDSA P-256"));
        assert_eq!(algorithm_name("1.2.840.113549.1.1.1", None), "RSA");
        assert_eq!(
            algorithm_name(EC_PUBLIC_KEY, Some("1.3.132.0.10")),
            "ECDSA secp256k1"
        );
        assert_eq!(
            algorithm_name(EC_PUBLIC_KEY, Some("1.2.3")),
            "ECDSA on the curve with OID 1.2.3"
        );
        assert_eq!(algorithm_name("1.2.3.4", None), "the algorithm with OID 1.2.3.4");
        for junk in [
            &b""[..],
            b"\x30",
            b"\x30\x03\x02\x01\x00",
            b"\x04\x00",
            &[0xff; 40],
        ] {
            assert_eq!(spki_algorithm(junk), None);
            assert_eq!(pkcs8_algorithm(junk), None);
            assert_eq!(sec1_algorithm(junk), None);
        }
    }
}
