//! `matchgate check-config`: every problem with a `node.toml` and the files it names, found
//! without starting the node: the values ([`NodeConfig::problems`]), the certificate (readable,
//! unexpired, carrying this node's OIN, matching its key), the CAs, the secret, the database URL,
//! the listen addresses, the peers and the grants.
use crate::config::{ConfigError, NodeConfig};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::path::Path;

/// One problem: the key (or file) at fault and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// the key in node.toml (`tls.cert`, `peers[1].oin`)
    pub key: String,
    /// what is wrong, naming the file where one is involved
    pub problem: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.key, self.problem)
    }
}

/// Read `path` and list every problem found; `Err` only when the file cannot be read or is not
/// TOML of the expected shape (then nothing else can be checked).
pub fn check_file(path: &Path) -> Result<Vec<Problem>, ConfigError> {
    let config = match NodeConfig::load(path) {
        Ok(c) => c,
        // the values are checked below, all of them; load stops at the first
        Err(ConfigError::Invalid { .. }) => NodeConfig::load_unchecked(path)?,
        Err(e) => return Err(e),
    };
    Ok(check(&config))
}

/// Every problem with a loaded configuration and the files it names.
pub fn check(c: &NodeConfig) -> Vec<Problem> {
    let mut out: Vec<Problem> = c
        .problems()
        .into_iter()
        .map(|(key, problem)| Problem { key, problem })
        .collect();
    let mut add = |key: &str, problem: String| {
        out.push(Problem {
            key: key.into(),
            problem,
        })
    };
    // the node's certificate and key
    match certs(&c.tls.cert) {
        Err(e) => add("tls.cert", e),
        Ok(chain) => {
            let leaf = chain[0].as_ref();
            match crate::pki::oin_of(leaf) {
                Some(oin) if oin == c.oin => {}
                Some(oin) => add(
                    "tls.cert",
                    format!(
                        "{}: the certificate's OIN is {oin}, the configuration's oin {}",
                        c.tls.cert.display(),
                        c.oin
                    ),
                ),
                None => add(
                    "tls.cert",
                    format!(
                        "{}: no OIN (20 digits) in the subject serialNumber",
                        c.tls.cert.display()
                    ),
                ),
            }
            if let Some(p) = validity(leaf) {
                add("tls.cert", format!("{}: {p}", c.tls.cert.display()));
            }
            match key(&c.tls.key) {
                Err(e) => add("tls.key", e),
                Ok(k) => {
                    let provider = rustls::crypto::ring::default_provider();
                    match rustls::sign::CertifiedKey::from_der(chain, k, &provider) {
                        Ok(_) => {}
                        Err(e) => add(
                            "tls.key",
                            format!(
                                "{}: does not go with {}: {e}",
                                c.tls.key.display(),
                                c.tls.cert.display()
                            ),
                        ),
                    }
                }
            }
        }
    }
    for (k, p) in [("tls.ca", &c.tls.ca), ("local.ca", &c.local.ca)] {
        if let Err(e) = certs(p) {
            add(k, e);
        }
    }
    if c.tls.ca == c.local.ca {
        add(
            "local.ca",
            "is the peers' CA: every peer's certificate would pass the local listener's TLS check \
             (only [local] clients get in, but own systems should have a CA of their own)"
                .into(),
        );
    }
    match std::fs::read(&c.secret_file) {
        Err(e) => add("secret_file", format!("{}: {e}", c.secret_file.display())),
        Ok(s) if s.trim_ascii().len() < 16 => add(
            "secret_file",
            format!("{}: shorter than 16 bytes", c.secret_file.display()),
        ),
        Ok(_) => {}
    }
    if !(c.database.starts_with("sqlite:")
        || c.database.starts_with("postgres://")
        || c.database.starts_with("postgresql://"))
    {
        add(
            "database",
            "is neither a sqlite:// nor a postgres:// URL".into(),
        );
    }
    let mut listens = vec![("listen", &c.listen), ("local.listen", &c.local.listen)];
    if let Some(a) = &c.admin.listen {
        listens.push(("admin.listen", a));
    }
    for (k, a) in &listens {
        if !is_listen_address(a) {
            add(k, format!("'{a}' is not HOST:PORT"));
        }
    }
    for (i, (k, a)) in listens.iter().enumerate() {
        if listens[..i].iter().any(|(_, b)| b == a) && !a.ends_with(":0") {
            add(k, format!("'{a}' is used by another listener"));
        }
    }
    for (i, p) in c.peers.iter().enumerate() {
        if c.peers[..i].iter().any(|q| q.oin == p.oin) {
            add(
                &format!("peers[{i}].oin"),
                format!("{} is configured twice", p.oin),
            );
        }
        if p.oin == c.oin {
            add(&format!("peers[{i}].oin"), "is this node's own OIN".into());
        }
    }
    out
}

fn is_listen_address(a: &str) -> bool {
    match a.rsplit_once(':') {
        Some((host, port)) => !host.is_empty() && port.parse::<u16>().is_ok(),
        None => false,
    }
}

fn certs(p: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let bytes = std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()))?;
    let chain = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{}: not PEM certificates: {e}", p.display()))?;
    if chain.is_empty() {
        return Err(format!("{}: holds no certificate", p.display()));
    }
    for (i, c) in chain.iter().enumerate() {
        if x509_parser::parse_x509_certificate(c.as_ref()).is_err() {
            return Err(format!(
                "{}: certificate {} is not X.509",
                p.display(),
                i + 1
            ));
        }
    }
    Ok(chain)
}

fn key(p: &Path) -> Result<PrivateKeyDer<'static>, String> {
    let bytes = std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()))?;
    #[cfg(unix)]
    if let Ok(m) = std::fs::metadata(p) {
        use std::os::unix::fs::PermissionsExt;
        // group access is allowed (Kubernetes mounts Secrets 0440 under an fsGroup)
        if m.permissions().mode() & 0o007 != 0 {
            return Err(format!(
                "{}: open to every user (mode {:o}; chmod 600, or 640 for a group)",
                p.display(),
                m.permissions().mode() & 0o777
            ));
        }
    }
    PrivateKeyDer::from_pem_slice(&bytes)
        .map_err(|e| format!("{}: not a PEM private key: {e}", p.display()))
}

/// Why a certificate is not valid now, if it is not.
fn validity(der: &[u8]) -> Option<String> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let v = cert.validity();
    let now = x509_parser::time::ASN1Time::now();
    if now > v.not_after {
        Some(format!("expired on {}", v.not_after))
    } else if now < v.not_before {
        Some(format!("not valid before {}", v.not_before))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A node.toml beside a development PKI, with `extra` appended.
    fn setup(extra: &str, top: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        let d = tempfile::tempdir().unwrap();
        crate::pki::write_dev_pki(
            &d.path().join("certs"),
            &[
                ("gemeente", "00000001001234567000"),
                ("uwv", "00000001003214345000"),
            ],
        )
        .unwrap();
        std::fs::write(d.path().join("node.secret"), "0123456789abcdef0123").unwrap();
        let toml = format!(
            r#"{top}
name = "Gemeente"
database = "sqlite://m.db"
secret_file = "node.secret"
listen = "127.0.0.1:7443"
[tls]
cert = "certs/gemeente.pem"
key = "certs/gemeente.key"
ca = "certs/ca.pem"
[local]
listen = "127.0.0.1:7444"
ca = "certs/local-ca.pem"
{extra}"#
        );
        let p = d.path().join("node.toml");
        std::fs::write(&p, toml).unwrap();
        (d, p)
    }

    #[test]
    fn a_sound_configuration_has_no_problems() {
        let (_d, p) = setup("", r#"oin = "00000001001234567000""#);
        assert_eq!(check_file(&p).unwrap(), vec![]);
    }

    #[test]
    fn every_problem_is_listed_not_only_the_first() {
        let (d, p) = setup(
            r#"
[limits]
burst = 0
[[peers]]
oin = "123"
name = "x"
endpoint = "http://uwv"
[[grants]]
via = "00000001003214345000"
on_behalf_of = ["*"]
services = ["select-everything"]
"#,
            // UWV's OIN: not the one in gemeente.pem
            r#"oin = "00000001003214345000""#,
        );
        // the key of another certificate
        std::fs::copy(
            d.path().join("certs/uwv.key"),
            d.path().join("certs/gemeente.key"),
        )
        .unwrap();
        std::fs::write(d.path().join("node.secret"), "short").unwrap();
        let problems = check_file(&p).unwrap();
        let keys: Vec<&str> = problems.iter().map(|p| p.key.as_str()).collect();
        for k in [
            "limits.requests_per_second",
            "peers[0].endpoint",
            "peers[0].oin",
            "grants[0].services",
            "tls.cert",
            "tls.key",
            "secret_file",
        ] {
            assert!(keys.contains(&k), "{k} missing from {problems:#?}");
        }
        let cert = problems.iter().find(|p| p.key == "tls.cert").unwrap();
        assert!(cert.problem.contains("00000001001234567000"), "{cert}");
    }

    #[test]
    fn missing_files_and_readable_keys_are_named() {
        let (d, p) = setup("", r#"oin = "00000001001234567000""#);
        std::fs::remove_file(d.path().join("certs/ca.pem")).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(
                d.path().join("certs/gemeente.key"),
                std::fs::Permissions::from_mode(0o644),
            )
            .unwrap();
        }
        let problems = check_file(&p).unwrap();
        assert!(problems
            .iter()
            .any(|p| p.key == "tls.ca" && p.problem.contains("ca.pem")));
        #[cfg(unix)]
        assert!(problems
            .iter()
            .any(|p| p.key == "tls.key" && p.problem.contains("chmod 600")));
    }
}
