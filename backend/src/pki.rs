//! The backend's own PKI: a client CA for kiosk and administrator certificates, a server CA and
//! the server certificate, and the Ed25519 signing key. All of it lives in `keys_dir`.

use crate::signing::BackendKey;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose, SanType, SerialNumber,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use time::{Duration, OffsetDateTime};

#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("certificate generation: {0}")]
    Rcgen(#[from] rcgen::Error),
    #[error("{0}")]
    Other(String),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> PkiError + '_ {
    move |source| PkiError::Io { path: path.display().to_string(), source }
}

pub const CLIENT_CA_CERT: &str = "client-ca.cert.pem";
pub const CLIENT_CA_KEY: &str = "client-ca.key.pem";
pub const SERVER_CA_CERT: &str = "server-ca.cert.pem";
pub const SERVER_CA_KEY: &str = "server-ca.key.pem";
pub const SERVER_CERT: &str = "server.cert.pem";
pub const SERVER_KEY: &str = "server.key.pem";
pub const SIGNING_KEY: &str = "signing.key";
pub const SIGNING_PUB: &str = "signing.pub";
/// The secret verification codes are derived from (64 hex digits, mode 0600).
pub const VERIFY_CODE_KEY: &str = "verify-code.key";
/// Written when `verify-code.key` is added to an older key directory: the last JST day
/// (`YYYYMMDD`) whose documents carry codes derived from the signing seed.
pub const VERIFY_CODE_LEGACY_UNTIL: &str = "verify-code.legacy-until";
/// The card-management key (PIN resets), PKCS#8 PEM; `load-world` copies the world's here.
pub const CARD_MANAGEMENT_KEY: &str = "card-management-key.pem";

/// Paths inside `keys_dir`.
#[derive(Debug, Clone)]
pub struct Keys {
    pub dir: PathBuf,
}

fn ca_params(cn: &str) -> CertificateParams {
    let mut p = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "madoguchi");
    dn.push(DnType::CommonName, cn);
    p.distinguished_name = dn;
    p.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    p.not_before = OffsetDateTime::now_utc() - Duration::days(1);
    p.not_after = OffsetDateTime::now_utc() + Duration::days(365 * 20);
    p
}

const CLIENT_CA_CN: &str = "madoguchi kiosk and administrator CA";
const SERVER_CA_CN: &str = "madoguchi backend server CA";

fn random_serial() -> SerialNumber {
    let mut b = [0u8; 16];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut b);
    b[0] &= 0x7f;
    b[0] |= 0x01;
    SerialNumber::from(b.to_vec())
}

/// Writes a secret: the file is created with mode 0600 (an existing one is set to 0600 before
/// anything is written), so the secret is never readable by others, not even for a moment.
pub(crate) fn write_private(path: &Path, contents: &str) -> Result<(), PkiError> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path).map_err(io(path))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        f.set_permissions(std::fs::Permissions::from_mode(0o600)).map_err(io(path))?;
    }
    f.set_len(0).map_err(io(path))?;
    f.write_all(contents.as_bytes()).map_err(io(path))?;
    f.sync_all().map_err(io(path))?;
    Ok(())
}

/// SHA-256 of a DER certificate, lower-case hex: how credentials are looked up.
pub fn fingerprint(der: &[u8]) -> String {
    hex::encode(Sha256::digest(der))
}

impl Keys {
    pub fn new(dir: &Path) -> Keys {
        Keys { dir: dir.to_path_buf() }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Every file `serve` needs (an older directory lacks `verify-code.key`: `init` adds it).
    pub fn exists(&self) -> bool {
        [CLIENT_CA_CERT, CLIENT_CA_KEY, SERVER_CA_CERT, SERVER_CERT, SERVER_KEY, SIGNING_KEY, VERIFY_CODE_KEY]
            .iter()
            .all(|f| self.path(f).exists())
    }

    /// Creates whatever is missing. Returns the names of the files created.
    pub fn init(&self, server_names: &[String]) -> Result<Vec<String>, PkiError> {
        std::fs::create_dir_all(&self.dir).map_err(io(&self.dir))?;
        let mut created = Vec::new();
        for (cert, key, cn) in
            [(CLIENT_CA_CERT, CLIENT_CA_KEY, CLIENT_CA_CN), (SERVER_CA_CERT, SERVER_CA_KEY, SERVER_CA_CN)]
        {
            if !self.path(key).exists() {
                let kp = KeyPair::generate()?;
                let c = ca_params(cn).self_signed(&kp)?;
                write_private(&self.path(key), &kp.serialize_pem())?;
                std::fs::write(self.path(cert), c.pem()).map_err(io(&self.path(cert)))?;
                created.extend([cert.to_string(), key.to_string()]);
            }
        }
        if !self.path(SERVER_KEY).exists() {
            let (issuer, issuer_key) = self.load_ca(SERVER_CA_KEY, SERVER_CA_CN)?;
            let kp = KeyPair::generate()?;
            let mut p = CertificateParams::default();
            p.distinguished_name.push(DnType::CommonName, "madoguchi backend");
            p.subject_alt_names = server_names
                .iter()
                .map(|n| match n.parse::<std::net::IpAddr>() {
                    Ok(ip) => Ok(SanType::IpAddress(ip)),
                    Err(_) => n.clone().try_into().map(SanType::DnsName),
                })
                .collect::<Result<_, _>>()?;
            p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
            p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
            p.serial_number = Some(random_serial());
            p.not_before = OffsetDateTime::now_utc() - Duration::days(1);
            p.not_after = OffsetDateTime::now_utc() + Duration::days(825);
            let c = p.signed_by(&kp, &issuer, &issuer_key)?;
            write_private(&self.path(SERVER_KEY), &kp.serialize_pem())?;
            std::fs::write(self.path(SERVER_CERT), c.pem()).map_err(io(&self.path(SERVER_CERT)))?;
            created.extend([SERVER_CERT.to_string(), SERVER_KEY.to_string()]);
        }
        if !self.path(VERIFY_CODE_KEY).exists() {
            let upgrading = self.path(SIGNING_KEY).exists();
            let mut secret = [0u8; 32];
            rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut secret);
            write_private(&self.path(VERIFY_CODE_KEY), &zeroize::Zeroizing::new(hex::encode(secret)))?;
            created.push(VERIFY_CODE_KEY.to_string());
            if upgrading {
                // Documents printed so far carry codes derived from the signing seed.
                let d = madoguchi_api::municipality::jst(OffsetDateTime::now_utc()).date();
                let day = format!("{:04}{:02}{:02}\n", d.year(), d.month() as u8, d.day());
                let p = self.path(VERIFY_CODE_LEGACY_UNTIL);
                std::fs::write(&p, day).map_err(io(&p))?;
                created.push(VERIFY_CODE_LEGACY_UNTIL.to_string());
            }
        }
        if !self.path(SIGNING_KEY).exists() {
            let k = BackendKey::generate();
            write_private(&self.path(SIGNING_KEY), &k.seed_hex())?;
            std::fs::write(self.path(SIGNING_PUB), k.public().to_hex()).map_err(io(&self.path(SIGNING_PUB)))?;
            created.extend([SIGNING_KEY.to_string(), SIGNING_PUB.to_string()]);
        }
        Ok(created)
    }

    /// Rebuilds a CA as an rcgen issuer: same DN and key, so issued certificates name it exactly.
    fn load_ca(&self, key_file: &str, cn: &str) -> Result<(rcgen::Certificate, KeyPair), PkiError> {
        let path = self.path(key_file);
        let pem = std::fs::read_to_string(&path).map_err(io(&path))?;
        let kp = KeyPair::from_pem(&pem)?;
        let c = ca_params(cn).self_signed(&kp)?;
        Ok((c, kp))
    }

    pub fn backend_key(&self) -> Result<BackendKey, PkiError> {
        if !self.path(VERIFY_CODE_KEY).exists() {
            return Err(PkiError::Other(format!(
                "{} is missing: run `madoguchi-backend init` to create it (codes on documents printed so far keep verifying)",
                self.path(VERIFY_CODE_KEY).display()
            )));
        }
        BackendKey::load(&self.path(SIGNING_KEY), &self.path(VERIFY_CODE_KEY), &self.path(VERIFY_CODE_LEGACY_UNTIL))
            .map_err(|e| PkiError::Other(e.to_string()))
    }

    pub fn server_identity(&self) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), PkiError> {
        let certs = read_certs(&self.path(SERVER_CERT))?;
        let key = read_key(&self.path(SERVER_KEY))?;
        Ok((certs, key))
    }

    pub fn client_ca(&self) -> Result<Vec<CertificateDer<'static>>, PkiError> {
        read_certs(&self.path(CLIENT_CA_CERT))
    }

    /// Issues a client certificate (kiosk or administrator) and writes the credential directory.
    pub fn issue_client(&self, cred: &CredentialInfo, out: &Path) -> Result<String, PkiError> {
        let (issuer, issuer_key) = self.load_ca(CLIENT_CA_KEY, CLIENT_CA_CN)?;
        let kp = KeyPair::generate()?;
        let mut p = CertificateParams::default();
        p.distinguished_name.push(DnType::CommonName, format!("{}:{}", cred.kind, cred.id));
        if let Some(store) = &cred.store {
            p.distinguished_name.push(DnType::OrganizationalUnitName, store.clone());
        }
        if let Some(m) = &cred.municipality_code {
            p.distinguished_name.push(DnType::OrganizationalUnitName, format!("municipality {m}"));
        }
        p.distinguished_name.push(DnType::OrganizationName, "madoguchi");
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        p.serial_number = Some(random_serial());
        p.not_before = OffsetDateTime::now_utc() - Duration::hours(1);
        p.not_after = OffsetDateTime::now_utc() + Duration::days(2 * 365);
        let c = p.signed_by(&kp, &issuer, &issuer_key)?;
        let fp = fingerprint(c.der());
        std::fs::create_dir_all(out).map_err(io(out))?;
        let cert_path = out.join("client.cert.pem");
        std::fs::write(&cert_path, c.pem()).map_err(io(&cert_path))?;
        write_private(&out.join("client.key.pem"), &kp.serialize_pem())?;
        let ca = std::fs::read(self.path(SERVER_CA_CERT)).map_err(io(&self.path(SERVER_CA_CERT)))?;
        std::fs::write(out.join("server-ca.cert.pem"), ca).map_err(io(out))?;
        let public = std::fs::read(self.path(SIGNING_PUB)).map_err(io(&self.path(SIGNING_PUB)))?;
        std::fs::write(out.join("backend-signing.pub"), public).map_err(io(out))?;
        let mut info = cred.clone();
        info.fingerprint = fp.clone();
        let json = serde_json::to_string_pretty(&info).map_err(|e| PkiError::Other(e.to_string()))?;
        std::fs::write(out.join("credential.json"), json).map_err(io(out))?;
        Ok(fp)
    }
}

/// `credential.json` in an enrolment directory.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct CredentialInfo {
    /// `kiosk` or `admin`.
    pub kind: String,
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub municipality_code: Option<String>,
    #[serde(default)]
    pub fingerprint: String,
}

pub fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, PkiError> {
    let certs: Vec<_> = CertificateDer::pem_file_iter(path)
        .map_err(|e| PkiError::Other(format!("{}: {e}", path.display())))?
        .collect::<Result<_, _>>()
        .map_err(|e| PkiError::Other(format!("{}: {e}", path.display())))?;
    if certs.is_empty() {
        return Err(PkiError::Other(format!("{}: no certificate", path.display())));
    }
    Ok(certs)
}

pub fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, PkiError> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| PkiError::Other(format!("{}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn secrets_are_written_with_mode_0600_even_over_a_readable_file() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("k");
        write_private(&p, "secret-1").unwrap();
        assert_eq!(std::fs::metadata(&p).unwrap().permissions().mode() & 0o777, 0o600);
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        write_private(&p, "s2").unwrap();
        assert_eq!(std::fs::metadata(&p).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "s2", "truncated, not appended");
    }

    /// `init` makes a verify-code key of its own; on a directory from before it, also the
    /// legacy day, so printed documents keep verifying.
    #[test]
    fn init_adds_a_verify_code_key_and_marks_the_legacy_day_on_upgrade() {
        let dir = tempfile::tempdir().unwrap();
        let keys = Keys::new(dir.path());
        let created = keys.init(&["localhost".into()]).unwrap();
        assert!(created.contains(&VERIFY_CODE_KEY.to_string()));
        assert!(!keys.path(VERIFY_CODE_LEGACY_UNTIL).exists(), "a new directory has no legacy codes");
        let k = keys.backend_key().unwrap();
        let seed: [u8; 32] = hex::decode(k.seed_hex()).unwrap().try_into().unwrap();
        let n = "20250601-ABCDEFGHJK";
        assert!(!k.check_verification_code(n, &crate::signing::tests::legacy_code(&seed, n)));
        // An older directory: no verify-code key.
        std::fs::remove_file(keys.path(VERIFY_CODE_KEY)).unwrap();
        assert!(!keys.exists());
        assert!(keys.backend_key().unwrap_err().to_string().contains("init"));
        let created = keys.init(&["localhost".into()]).unwrap();
        assert_eq!(created, vec![VERIFY_CODE_KEY.to_string(), VERIFY_CODE_LEGACY_UNTIL.to_string()]);
        let k = keys.backend_key().unwrap();
        assert!(
            k.check_verification_code(n, &crate::signing::tests::legacy_code(&seed, n)),
            "printed before: still genuine"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(keys.path(VERIFY_CODE_KEY)).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
    }
}
