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
    pub cert: String,
    pub key: String,
}

pub struct DevCa {
    params: CertificateParams,
    key: KeyPair,
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
        let mut params = CertificateParams::new(vec!["localhost".to_string()])?;
        params
            .subject_alt_names
            .push(SanType::IpAddress(std::net::IpAddr::from([127, 0, 0, 1])));
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

/// Write a development PKI into `dir`: `ca.pem`, and `<name>.pem`/`<name>.key` per organisation,
/// plus `expired.pem/.key` (OIN of the first organisation) and `foreign-ca.pem` with `foreign.pem/.key`.
pub fn write_dev_pki(dir: &Path, orgs: &[(&str, &str)]) -> Result<(), Box<dyn std::error::Error>> {
    std::fs::create_dir_all(dir)?;
    let ca = DevCa::new("matchgate development CA")?;
    std::fs::write(dir.join("ca.pem"), &ca.pem.cert)?;
    for (name, oin) in orgs {
        let p = ca.node(name, oin, false)?;
        std::fs::write(dir.join(format!("{name}.pem")), &p.cert)?;
        std::fs::write(dir.join(format!("{name}.key")), &p.key)?;
    }
    if let Some((name, oin)) = orgs.first() {
        let p = ca.node(&format!("{name} (expired)"), oin, true)?;
        std::fs::write(dir.join("expired.pem"), &p.cert)?;
        std::fs::write(dir.join("expired.key"), &p.key)?;
        let foreign = DevCa::new("Some other CA")?;
        let p = foreign.node(name, oin, false)?;
        std::fs::write(dir.join("foreign-ca.pem"), &foreign.pem.cert)?;
        std::fs::write(dir.join("foreign.pem"), &p.cert)?;
        std::fs::write(dir.join("foreign.key"), &p.key)?;
    }
    Ok(())
}

/// The OIN in a certificate's subject serialNumber (DER input), if it is 20 digits.
pub fn oin_of(der: &[u8]) -> Option<String> {
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
