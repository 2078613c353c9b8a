//! A development PKI shaped like PKIoverheid: a CA, node certificates whose subject carries the
//! organisation's OIN in serialNumber (2.5.4.5), and, for tests, an expired certificate and a
//! certificate from a foreign CA. Never for production: real nodes use PKIoverheid certificates.
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};
use std::path::Path;

/// A certificate and its private key, PEM.
#[derive(Debug, Clone)]
pub struct Pem {
    /// the certificate, PEM
    pub cert: String,
    /// its private key, PEM
    pub key: String,
}

/// A development CA that issues node and own-system certificates.
pub struct DevCa {
    params: CertificateParams,
    key: KeyPair,
    /// the CA's certificate and key
    pub pem: Pem,
}

fn dn(name: &str, oin: Option<&str>) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CountryName, "NL");
    dn.push(DnType::OrganizationName, name);
    dn.push(DnType::CommonName, name);
    if let Some(oin) = oin {
        dn.push(DnType::CustomDnType(vec![2, 5, 4, 5]), oin);
    }
    dn
}

impl DevCa {
    /// A new self-signed CA with this name (a fresh key).
    pub fn new(name: &str) -> Result<DevCa, rcgen::Error> {
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.distinguished_name = dn(name, None);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate()?;
        let cert = params.self_signed(&key)?;
        let pem = Pem {
            cert: cert.pem(),
            key: key.serialize_pem(),
        };
        Ok(DevCa { params, key, pem })
    }

    /// A node (server and client) certificate for `localhost`/`127.0.0.1` with the OIN in serialNumber.
    pub fn node(&self, name: &str, oin: &str, expired: bool) -> Result<Pem, rcgen::Error> {
        self.node_for(name, oin, expired, &[])
    }

    /// A node certificate for `localhost`/`127.0.0.1` and `hosts` (DNS names, or IP addresses,
    /// which become IP address SANs).
    pub fn node_for(
        &self,
        name: &str,
        oin: &str,
        expired: bool,
        hosts: &[String],
    ) -> Result<Pem, rcgen::Error> {
        let mut names = vec!["localhost".to_string()];
        names.extend(hosts.iter().filter(|h| *h != "localhost").cloned());
        let mut params = CertificateParams::new(names)?;
        let loopback = std::net::IpAddr::from([127, 0, 0, 1]);
        if !hosts.iter().any(|h| h.parse() == Ok(loopback)) {
            params.subject_alt_names.push(SanType::IpAddress(loopback));
        }
        params.distinguished_name = dn(name, Some(oin));
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![
            rcgen::ExtendedKeyUsagePurpose::ServerAuth,
            rcgen::ExtendedKeyUsagePurpose::ClientAuth,
        ];
        if expired {
            params.not_before = rcgen::date_time_ymd(2020, 1, 1);
            params.not_after = rcgen::date_time_ymd(2021, 1, 1);
        }
        let key = KeyPair::generate()?;
        let issuer = Issuer::from_params(&self.params, &self.key);
        let cert = params.signed_by(&key, &issuer)?;
        Ok(Pem {
            cert: cert.pem(),
            key: key.serialize_pem(),
        })
    }
}

/// The subject CN the development PKI gives an organisation's own systems' client certificate.
pub fn own_systems_cn(name: &str) -> String {
    format!("{name} own systems")
}

/// Write a private key readable by its owner only (mode 0600 on unix), also when the file exists.
pub fn write_key(path: &Path, pem: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    let mut f = o.open(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // an existing file keeps its mode on open: narrow it before the key goes in
        f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    f.write_all(pem.as_bytes())
}

fn write_pair(dir: &Path, stem: &str, p: &Pem) -> std::io::Result<()> {
    std::fs::write(dir.join(format!("{stem}.pem")), &p.cert)?;
    write_key(&dir.join(format!("{stem}.key")), &p.key)
}

/// Write a development PKI into `dir`: `ca.pem` (the peers' CA), and `<name>.pem`/`<name>.key`
/// per organisation; `local-ca.pem`, a separate CA for own systems, with `<name>-local.pem/.key`
/// per organisation (subject CN [`own_systems_cn`], the organisation's OIN); plus
/// `expired.pem/.key` (OIN of the first organisation) and `foreign-ca.pem` with
/// `foreign.pem/.key`. Private keys are written with mode 0600.
pub fn write_dev_pki(dir: &Path, orgs: &[(&str, &str)]) -> Result<(), Box<dyn std::error::Error>> {
    write_dev_pki_for(dir, orgs, &[])
}

/// [`write_dev_pki`] with node certificates that also name `hosts` (DNS names or IP
/// addresses), for nodes on real hosts.
pub fn write_dev_pki_for(
    dir: &Path,
    orgs: &[(&str, &str)],
    hosts: &[String],
) -> Result<(), Box<dyn std::error::Error>> {
    std::fs::create_dir_all(dir)?;
    let ca = DevCa::new("matchgate development CA")?;
    std::fs::write(dir.join("ca.pem"), &ca.pem.cert)?;
    let local_ca = DevCa::new("matchgate development CA for own systems")?;
    std::fs::write(dir.join("local-ca.pem"), &local_ca.pem.cert)?;
    for (name, oin) in orgs {
        write_pair(dir, name, &ca.node_for(name, oin, false, hosts)?)?;
        write_pair(
            dir,
            &format!("{name}-local"),
            &local_ca.node(&own_systems_cn(name), oin, false)?,
        )?;
    }
    if let Some((name, oin)) = orgs.first() {
        write_pair(
            dir,
            "expired",
            &ca.node(&format!("{name} (expired)"), oin, true)?,
        )?;
        let foreign = DevCa::new("Some other CA")?;
        std::fs::write(dir.join("foreign-ca.pem"), &foreign.pem.cert)?;
        write_pair(dir, "foreign", &foreign.node(name, oin, false)?)?;
    }
    Ok(())
}

/// Whether `host` can be a certificate's subject alternative name: an IP address, or a DNS name
/// of letters, digits and hyphens in labels of 1 to 63 (a leading `*.` for a wildcard), at most
/// 253 long.
pub fn is_host_name(host: &str) -> bool {
    if host.parse::<std::net::IpAddr>().is_ok() {
        return true;
    }
    let name = host.strip_prefix("*.").unwrap_or(host);
    host.len() <= 253
        && name.split('.').all(|l| {
            (1..=63).contains(&l.len())
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// The subject CN of a certificate (DER input), if it has one as text.
pub fn subject_cn(der: &[u8]) -> Option<String> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let cn = cert.subject().iter_common_name().next()?.as_str().ok()?;
    Some(cn.to_string())
}

/// The OIN in a certificate's subject serialNumber (DER input), if it is 20 digits.
///
/// Every call on a connection presents the same certificate, and the guard, the metrics and the
/// audit each ask for its OIN: the answers for the last [`OIN_MEMO`] certificates are kept, keyed
/// by the whole DER (so a different certificate never gets another's answer), and forgotten all
/// at once when full (bounded memory whatever certificates arrive).
pub fn oin_of(der: &[u8]) -> Option<String> {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    /// certificate (DER) → its OIN, if any
    type Memo = Mutex<HashMap<Box<[u8]>, Option<String>>>;
    static MEMO: OnceLock<Memo> = OnceLock::new();
    let memo = MEMO.get_or_init(|| Mutex::new(HashMap::new()));
    if let Ok(m) = memo.lock() {
        if let Some(v) = m.get(der) {
            return v.clone();
        }
    }
    let v = parse_oin(der);
    if der.len() <= MAX_MEMO_DER {
        if let Ok(mut m) = memo.lock() {
            if m.len() >= OIN_MEMO {
                m.clear();
            }
            m.insert(der.into(), v.clone());
        }
    }
    v
}

/// Certificates whose OIN [`oin_of`] remembers.
pub const OIN_MEMO: usize = 1024;
/// Larger certificates are parsed each time rather than remembered.
const MAX_MEMO_DER: usize = 16 * 1024;

fn parse_oin(der: &[u8]) -> Option<String> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let oid = x509_parser::oid_registry::Oid::from(&[2, 5, 4, 5]).ok()?;
    let v = cert
        .subject()
        .iter_by_oid(&oid)
        .next()?
        .as_str()
        .ok()?
        .to_string();
    (v.len() == 20 && v.bytes().all(|b| b.is_ascii_digit())).then_some(v)
}

#[cfg(test)]
mod tests {
    use super::{oin_of, DevCa, OIN_MEMO};

    fn der(pem: &str) -> Vec<u8> {
        use rustls::pki_types::{pem::PemObject, CertificateDer};
        CertificateDer::from_pem_slice(pem.as_bytes())
            .unwrap()
            .to_vec()
    }

    #[test]
    fn remembered_oins_belong_to_their_own_certificate_and_the_memo_stays_bounded() {
        let ca = DevCa::new("test CA").unwrap();
        let a = der(&ca.node("a", "00000001001234567000", false).unwrap().cert);
        let b = der(&ca.node("b", "00000004003214345001", false).unwrap().cert);
        for _ in 0..3 {
            assert_eq!(oin_of(&a).as_deref(), Some("00000001001234567000"));
            assert_eq!(oin_of(&b).as_deref(), Some("00000004003214345001"));
        }
        // a certificate without an OIN is remembered as such
        let ca_der = der(&ca.pem.cert);
        assert_eq!((oin_of(&ca_der), oin_of(&ca_der)), (None, None));
        // more certificates than the memo holds: still right after it is emptied
        for i in 0..OIN_MEMO + 10 {
            let mut junk = a.clone();
            junk.extend_from_slice(&(i as u64).to_le_bytes());
            let _ = oin_of(&junk);
        }
        assert_eq!(oin_of(&b).as_deref(), Some("00000004003214345001"));
    }
}
