//! Package URLs (purl) for the dependencies we record: `pkg:TYPE/NAMESPACE/NAME@VERSION`,
//! with each type's normalisation from the purl specification.

use super::Ecosystem;

/// The purl of one package version.
pub fn purl(ecosystem: Ecosystem, name: &str, version: &str) -> String {
    let path = match ecosystem {
        Ecosystem::Cargo => encode(name),
        // purl spec, pypi: lowercased, `_` replaced with `-` (dots are kept).
        Ecosystem::Python => encode(&name.to_ascii_lowercase().replace('_', "-")),
        // golang: the module path is namespace + name, both lowercased; `/` separates segments.
        Ecosystem::Go => segments(&name.to_ascii_lowercase()),
        // npm: lowercased; a scope is the namespace, its `@` percent-encoded.
        Ecosystem::Npm => segments(&name.to_ascii_lowercase()),
    };
    format!("pkg:{}/{path}@{}", ecosystem.purl_type(), encode(version))
}

/// Encodes each `/`-separated segment, dropping empty ones (a purl has no empty segment).
fn segments(path: &str) -> String {
    path.split('/')
        .filter(|s| !s.is_empty())
        .map(encode)
        .collect::<Vec<_>>()
        .join("/")
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn purls_follow_each_types_rules() {
        let cases = [
            (Ecosystem::Cargo, "itoa", "1.0.11", "pkg:cargo/itoa@1.0.11"),
            (
                Ecosystem::Cargo,
                "serde_json",
                "1.0.0",
                "pkg:cargo/serde_json@1.0.0",
            ),
            (
                Ecosystem::Python,
                "hatchling",
                "1.25.0",
                "pkg:pypi/hatchling@1.25.0",
            ),
            (
                Ecosystem::Python,
                "Flit_Core",
                "3.9.0",
                "pkg:pypi/flit-core@3.9.0",
            ),
            (
                Ecosystem::Python,
                "zope.interface",
                "6.0",
                "pkg:pypi/zope.interface@6.0",
            ),
            (
                Ecosystem::Python,
                "torch",
                "2.1.0+cpu",
                "pkg:pypi/torch@2.1.0%2Bcpu",
            ),
            (
                Ecosystem::Go,
                "github.com/x/y",
                "v1.2.3",
                "pkg:golang/github.com/x/y@v1.2.3",
            ),
            (
                Ecosystem::Go,
                "github.com/BurntSushi/toml",
                "v0.0.0-20200101000000-abcdef012345+incompatible",
                "pkg:golang/github.com/burntsushi/toml@v0.0.0-20200101000000-abcdef012345%2Bincompatible",
            ),
            (
                Ecosystem::Go,
                "golang.org/x/mod",
                "v0.20.0",
                "pkg:golang/golang.org/x/mod@v0.20.0",
            ),
            (
                Ecosystem::Npm,
                "@scope/name",
                "1.0.0",
                "pkg:npm/%40scope/name@1.0.0",
            ),
            (Ecosystem::Npm, "left-pad", "1.3.0", "pkg:npm/left-pad@1.3.0"),
        ];
        for (eco, name, version, want) in cases {
            assert_eq!(purl(eco, name, version), want, "{eco:?} {name} {version}");
        }
    }

    #[test]
    fn hostile_names_stay_inside_their_component() {
        assert_eq!(
            purl(Ecosystem::Cargo, "a/b@c", "1 2"),
            "pkg:cargo/a%2Fb%40c@1%202"
        );
        assert_eq!(purl(Ecosystem::Go, "//x//y/", "v1"), "pkg:golang/x/y@v1");
        assert_eq!(purl(Ecosystem::Npm, "é", "1"), "pkg:npm/%C3%A9@1");
    }
}
