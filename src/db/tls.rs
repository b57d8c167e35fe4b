//! TLS to PostgreSQL with rustls, with libpq's `sslmode` semantics: `disable` sends
//! no TLS request; `prefer` and `require` encrypt without checking the certificate
//! (libpq does the same: they protect against eavesdroppers, not impostors);
//! `verify-ca` checks the chain against the root certificates; `verify-full` also
//! checks that the certificate names the host connected to. The roots are
//! `sslrootcert` (a PEM file) or, without it or with `sslrootcert=system`, the
//! Mozilla root program's certificates built in (webpki-roots).

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::conninfo::{ConnInfo, RootCertificates, SslMode};
use super::pem;
use super::DbError;

/// PostgreSQL 17 servers check this ALPN protocol on direct TLS connections
/// (`sslnegotiation=direct`); older servers ignore it.
const POSTGRES_ALPN: &[u8] = b"postgresql";

/// The connector for `info`, or `None` for `sslmode=disable`.
pub fn connector(info: &ConnInfo) -> Result<Option<MakeRustlsConnect>, DbError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier: Arc<dyn ServerCertVerifier> = match info.ssl_mode {
        SslMode::Disable => return Ok(None),
        SslMode::Prefer | SslMode::Require => Arc::new(NoCertificateCheck { provider: provider.clone() }),
        SslMode::VerifyCa => Arc::new(ChainOnly { inner: webpki_verifier(info, &provider)? }),
        SslMode::VerifyFull => webpki_verifier(info, &provider)?,
    };
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|error| DbError::Tls(format!("TLS setup: {error}")))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    config.alpn_protocols = vec![POSTGRES_ALPN.to_vec()];
    Ok(Some(MakeRustlsConnect::new(config)))
}

fn root_store(info: &ConnInfo) -> Result<RootCertStore, DbError> {
    match &info.root_certificates {
        Some(RootCertificates::File(path)) => {
            let mut roots = RootCertStore::empty();
            let certificates = pem::load_certificates(path).map_err(|message| DbError::Tls(format!("sslrootcert: {message}")))?;
            let (added, _ignored) = roots.add_parsable_certificates(certificates);
            if added == 0 {
                return Err(DbError::Tls(format!("sslrootcert: {} holds no usable root certificate", path.display())));
            }
            Ok(roots)
        }
        Some(RootCertificates::System) | None => Ok(RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() }),
    }
}

fn webpki_verifier(info: &ConnInfo, provider: &Arc<CryptoProvider>) -> Result<Arc<dyn ServerCertVerifier>, DbError> {
    let verifier = WebPkiServerVerifier::builder_with_provider(Arc::new(root_store(info)?), provider.clone())
        .build()
        .map_err(|error| DbError::Tls(format!("sslrootcert: {error}")))?;
    Ok(verifier)
}

/// `verify-ca`: the chain must lead to a trusted root; the host name is not checked.
/// The webpki verifier checks the chain before the name, so a name mismatch means
/// the chain was good.
#[derive(Debug)]
struct ChainOnly {
    inner: Arc<dyn ServerCertVerifier>,
}

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self.inner.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
            Err(rustls::Error::InvalidCertificate(CertificateError::NotValidForName))
            | Err(rustls::Error::InvalidCertificate(CertificateError::NotValidForNameContext { .. })) => {
                Ok(ServerCertVerified::assertion())
            }
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// `prefer` and `require`: any certificate is taken (as libpq takes it), but the
/// handshake signatures are still checked, so the session is encrypted to whoever
/// holds the certificate's key.
#[derive(Debug)]
struct NoCertificateCheck {
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for NoCertificateCheck {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

/// A plain-words reading of a certificate failure in a connection error, if it is one.
pub fn explain(error: &tokio_postgres::Error) -> Option<&'static str> {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(error);
    while let Some(current) = cause {
        // io::Error's source() skips the error it wraps, so look inside it first.
        let inner =
            current.downcast_ref::<std::io::Error>().and_then(|io| io.get_ref()).map(|inner| inner as &(dyn std::error::Error + 'static));
        for candidate in [Some(current), inner].into_iter().flatten() {
            if let Some(rustls::Error::InvalidCertificate(certificate)) = candidate.downcast_ref::<rustls::Error>() {
                return Some(match certificate {
                    CertificateError::UnknownIssuer | CertificateError::BadSignature => {
                        "the server's certificate does not lead to a trusted root: check sslrootcert (database.ssl_root_cert)"
                    }
                    CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                        "the server's certificate does not name the host connected to; sslmode=verify-full checks the name"
                    }
                    CertificateError::Expired | CertificateError::ExpiredContext { .. } => "the server's certificate has expired",
                    _ => "the server's certificate was refused",
                });
            }
        }
        cause = current.source();
    }
    None
}
