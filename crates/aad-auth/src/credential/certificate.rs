//! Certificate credentials: an RSA key and its X.509 certificate, from PEM or PKCS#12.

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

use ring::digest;
use ring::signature::RsaKeyPair;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use secrecy::{ExposeSecret, SecretString};

use super::jwt;
use crate::{Error, Result};

/// Which client-assertion form a certificate signs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum AssertionForm {
    /// PS256, with the certificate's SHA-256 thumbprint in `x5t#S256` (Microsoft's current recommendation).
    #[default]
    Current,
    /// RS256, with the certificate's SHA-1 thumbprint in `x5t`, for older setups and other identity providers.
    Legacy,
}

/// A certificate credential: an RSA private key and the certificate Azure AD knows it by.
///
/// Upload the certificate (public part only) to the app registration under Certificates & secrets.
/// `Debug` shows the thumbprint, never the key.
///
/// ```no_run
/// use aad_auth::{AssertionForm, ClientCertificate, SecretString};
///
/// let from_pem = ClientCertificate::from_pem_file("app.pem")?; // key and certificate in one file
/// let password = SecretString::from("pfx password");
/// let from_pfx = ClientCertificate::from_pkcs12_file("app.pfx", &password)?
///     .with_form(AssertionForm::Legacy)
///     .with_chain(true);
/// println!("{}", from_pfx.thumbprint_sha1());
/// # Ok::<(), aad_auth::Error>(())
/// ```
#[derive(Clone)]
pub struct ClientCertificate {
    material: Arc<Material>,
    form: AssertionForm,
    send_chain: bool,
}

pub(super) struct Material {
    pub(super) key: RsaKeyPair,
    /// DER certificates, the one matching the key first.
    pub(super) chain: Vec<Vec<u8>>,
    pub(super) sha1: Vec<u8>,
    pub(super) sha256: Vec<u8>,
}

impl ClientCertificate {
    /// Reads a PEM document holding the private key (PKCS#8 or PKCS#1 RSA, unencrypted)
    /// and the certificate, optionally followed by its chain.
    ///
    /// # Errors
    /// [`Error::Credential`] when there is no key or no certificate, the key is encrypted or not RSA,
    /// or no certificate belongs to the key.
    pub fn from_pem(pem: &[u8]) -> Result<Self> {
        let text = String::from_utf8_lossy(pem);
        if text.contains("ENCRYPTED PRIVATE KEY") || text.contains("Proc-Type: 4,ENCRYPTED") {
            return Err(Error::credential(
                "the PEM private key is encrypted: decrypt it (openssl pkey -in key.pem -out plain.pem) \
                 or use a PKCS#12 (.pfx) file with its password",
                None,
            ));
        }
        let certificates = CertificateDer::pem_slice_iter(pem)
            .map(|certificate| certificate.map(|c| c.as_ref().to_vec()))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| Error::credential("the PEM document is malformed", Some(Arc::new(e))))?;
        let key = PrivateKeyDer::from_pem_slice(pem).map_err(|e| {
            Error::credential(
                "the PEM document holds no private key (expected PRIVATE KEY or RSA PRIVATE KEY)",
                Some(Arc::new(e)),
            )
        })?;
        let key = match key {
            PrivateKeyDer::Pkcs8(key) => rsa_from_pkcs8(key.secret_pkcs8_der())?,
            PrivateKeyDer::Pkcs1(key) => RsaKeyPair::from_der(key.secret_pkcs1_der()).map_err(rejected)?,
            _ => {
                return Err(Error::credential(
                    "the private key is not an RSA key: Azure AD certificate credentials need RSA (2048 bits or more)",
                    None,
                ));
            }
        };
        Self::assemble(key, certificates)
    }

    /// Reads a PEM file; see [`ClientCertificate::from_pem`].
    ///
    /// # Errors
    /// As [`ClientCertificate::from_pem`], and when the file cannot be read.
    pub fn from_pem_file(path: impl AsRef<Path>) -> Result<Self> {
        Self::from_pem(&read(path.as_ref())?)
    }

    /// Reads a PKCS#12 (`.pfx`/`.p12`) archive holding the private key and its certificate chain.
    /// Both the current (AES, PBKDF2) and the legacy (3DES, RC2) encryptions are read.
    ///
    /// # Errors
    /// [`Error::Credential`] when the password is wrong, the archive holds no key, or the key is not RSA.
    pub fn from_pkcs12(der: &[u8], password: &SecretString) -> Result<Self> {
        let store = p12_keystore::KeyStore::from_pkcs12(der, password.expose_secret())
            .map_err(|e| Error::credential(format!("cannot open the PKCS#12 file (wrong password?): {e}"), None))?;
        let Some((_alias, chain)) = store.private_key_chain() else {
            return Err(Error::credential("the PKCS#12 file holds no private key", None));
        };
        let key = rsa_from_pkcs8(chain.key())?;
        let certificates = chain.chain().iter().map(|c| c.as_der().to_vec()).collect();
        Self::assemble(key, certificates)
    }

    /// Reads a PKCS#12 file; see [`ClientCertificate::from_pkcs12`].
    ///
    /// # Errors
    /// As [`ClientCertificate::from_pkcs12`], and when the file cannot be read.
    pub fn from_pkcs12_file(path: impl AsRef<Path>, password: &SecretString) -> Result<Self> {
        Self::from_pkcs12(&read(path.as_ref())?, password)
    }

    /// Reads a certificate file by its extension: `.pfx` and `.p12` as PKCS#12, anything else as PEM.
    ///
    /// # Errors
    /// As the reader chosen.
    pub fn from_file(path: impl AsRef<Path>, password: Option<&SecretString>) -> Result<Self> {
        let path = path.as_ref();
        let pkcs12 = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case("pfx") || e.eq_ignore_ascii_case("p12"));
        if pkcs12 {
            Self::from_pkcs12_file(path, password.unwrap_or(&SecretString::from(String::new())))
        } else {
            Self::from_pem_file(path)
        }
    }

    /// Chooses the assertion form (default [`AssertionForm::Current`]).
    #[must_use]
    pub fn with_form(mut self, form: AssertionForm) -> Self {
        self.form = form;
        self
    }

    /// Sends the certificate chain in the assertion's `x5c` header (default no),
    /// as subject-name/issuer authentication requires.
    #[must_use]
    pub fn with_chain(mut self, send_chain: bool) -> Self {
        self.send_chain = send_chain;
        self
    }

    /// The SHA-1 thumbprint in upper-case hex, as the Azure portal shows it.
    pub fn thumbprint_sha1(&self) -> String {
        hex_upper(&self.material.sha1)
    }

    /// The SHA-256 thumbprint in upper-case hex.
    pub fn thumbprint_sha256(&self) -> String {
        hex_upper(&self.material.sha256)
    }

    /// The assertion form in use.
    pub fn form(&self) -> AssertionForm {
        self.form
    }

    /// A signed client assertion for `client_id` at the token endpoint `audience`.
    pub(crate) fn client_assertion(&self, client_id: &str, audience: &str, now: SystemTime) -> Result<SecretString> {
        jwt::sign(&self.material, self.form, self.send_chain, client_id, audience, now)
    }

    fn assemble(key: RsaKeyPair, certificates: Vec<Vec<u8>>) -> Result<Self> {
        if certificates.is_empty() {
            return Err(Error::credential("no certificate was found next to the private key", None));
        }
        let public_key = key.public().as_ref().to_vec();
        let mut leaf = None;
        for (index, der) in certificates.iter().enumerate() {
            let (_, parsed) = x509_parser::parse_x509_certificate(der)
                .map_err(|e| Error::credential("a certificate cannot be parsed", Some(Arc::new(e))))?;
            if parsed.public_key().subject_public_key.data.as_ref() == public_key.as_slice() {
                if !parsed.validity().is_valid() {
                    tracing::warn!(
                        not_after = %parsed.validity().not_after,
                        "the client certificate is outside its validity period; Azure AD will reject it"
                    );
                }
                leaf = Some(index);
                break;
            }
        }
        let Some(leaf) = leaf else {
            return Err(Error::credential("the private key does not belong to any of the certificates given", None));
        };
        let mut chain = certificates;
        let leaf_der = chain.remove(leaf);
        let sha1 = digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, &leaf_der).as_ref().to_vec();
        let sha256 = digest::digest(&digest::SHA256, &leaf_der).as_ref().to_vec();
        chain.insert(0, leaf_der);
        Ok(Self {
            material: Arc::new(Material { key, chain, sha1, sha256 }),
            form: AssertionForm::default(),
            send_chain: false,
        })
    }
}

impl fmt::Debug for ClientCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientCertificate")
            .field("thumbprint_sha1", &self.thumbprint_sha1())
            .field("form", &self.form)
            .field("send_chain", &self.send_chain)
            .field("private_key", &"[REDACTED]")
            .finish()
    }
}

fn rsa_from_pkcs8(der: &[u8]) -> Result<RsaKeyPair> {
    RsaKeyPair::from_pkcs8(der).map_err(rejected)
}

fn rejected(error: ring::error::KeyRejected) -> Error {
    Error::credential(
        format!("the private key was rejected ({error}): it must be an RSA key of 2048 bits or more"),
        None,
    )
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| {
        Error::credential(format!("cannot read the certificate file {}", path.display()), Some(Arc::new(e)))
    })
}

fn hex_upper(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}
