//! Reading PEM files named in the configuration: certificates and private keys for
//! the push server's TLS and the database's root certificates. Errors name the file;
//! the caller adds the key. A key file's contents never reach a message. Files are read
//! up to [`MAX_PEM_BYTES`]: a path such as `/dev/zero` is refused, not read forever.

use std::io::Read;
use std::path::Path;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// The most a PEM file named in the configuration may hold: a certificate chain or a
/// key is a few KiB.
pub const MAX_PEM_BYTES: u64 = 1 << 20;

/// The file's bytes, refused past [`MAX_PEM_BYTES`].
fn read_bounded(path: &Path) -> Result<Vec<u8>, String> {
    let file = std::fs::File::open(path).map_err(|error| format!("cannot read {}: {error}", path.display()))?;
    let mut bytes = Vec::new();
    file.take(MAX_PEM_BYTES + 1).read_to_end(&mut bytes).map_err(|error| format!("cannot read {}: {error}", path.display()))?;
    if bytes.len() as u64 > MAX_PEM_BYTES {
        return Err(format!("{} is larger than {MAX_PEM_BYTES} bytes; expected a PEM file of a few KiB", path.display()));
    }
    Ok(bytes)
}

/// Every certificate in a PEM file; an error when it holds none.
pub fn load_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let text = read_bounded(path)?;
    let certificates = CertificateDer::pem_slice_iter(&text)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| format!("{} is not a valid PEM file: {error}", path.display()))?;
    if certificates.is_empty() {
        return Err(format!("{} holds no PEM certificate (-----BEGIN CERTIFICATE-----)", path.display()));
    }
    Ok(certificates)
}

/// The first private key (PKCS#8, PKCS#1 or SEC1) in a PEM file.
pub fn load_private_key(path: &Path) -> Result<PrivateKeyDer<'static>, String> {
    let text = read_bounded(path)?;
    PrivateKeyDer::from_pem_slice(&text).map_err(|error| match error {
        rustls::pki_types::pem::Error::NoItemsFound => {
            format!("{} holds no PEM private key (PKCS#8, PKCS#1 or SEC1)", path.display())
        }
        // The error's own text may quote the file; the key material stays out of it.
        _ => format!("{} is not a valid PEM private key", path.display()),
    })
}

/// Checks that the private key is usable and belongs to the chain's first (end-entity)
/// certificate, as the TLS server will at start. The message names both files.
pub fn check_key_matches(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    cert_path: &Path,
    key_path: &Path,
) -> Result<(), String> {
    let provider = rustls::crypto::ring::default_provider();
    rustls::sign::CertifiedKey::from_der(chain, key, &provider).map(|_| ()).map_err(|error| match error {
        rustls::Error::InconsistentKeys(_) => {
            format!("{} does not match the certificate in {}", key_path.display(), cert_path.display())
        }
        other => format!("{} cannot be used with the certificate in {}: {other}", key_path.display(), cert_path.display()),
    })
}
