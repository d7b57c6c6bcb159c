//! Server-side TLS with rustls: certificates and keys from PEM files (Pulsar's
//! `tlsCertificateFilePath`, `tlsKeyFilePath`, `tlsTrustCertsFilePath`), optional client
//! certificates verified against the trusted CAs.

use std::{path::PathBuf, sync::Arc};

use rustls::{
    crypto::ring,
    server::{danger::ClientCertVerifier, WebPkiClientVerifier},
    RootCertStore, ServerConfig,
};
use rustls_pki_types::{pem::PemObject, CertificateDer, PrivateKeyDer};
use thiserror::Error;

/// Where the server's certificate, key and trusted client CAs are.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsSettings {
    /// PEM certificate chain presented to clients (`tlsCertificateFilePath`).
    pub certificate: PathBuf,
    /// PEM private key (`tlsKeyFilePath`).
    pub key: PathBuf,
    /// PEM CAs that sign client certificates (`tlsTrustCertsFilePath`); without it client
    /// certificates are not asked for.
    pub trust: Option<PathBuf>,
    /// Refuse clients without a trusted certificate
    /// (`tlsRequireTrustedClientCertOnConnect`).
    pub require_client_certificate: bool,
}

/// Why TLS could not be set up.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A PEM file could not be read or holds nothing usable.
    #[error("{what} {}: {reason}", path.display())]
    File {
        /// Which setting.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// rustls refused the configuration (a key that does not match the certificate...).
    #[error("TLS configuration: {0}")]
    Config(String),
}

/// A rustls server configuration from `settings`.
///
/// # Errors
/// [`TlsError`] for unreadable files, no certificate or key, or an inconsistent setup.
pub fn server_config(settings: &TlsSettings) -> Result<Arc<ServerConfig>, TlsError> {
    let provider = Arc::new(ring::default_provider());
    let certificates = read_certificates("tlsCertificateFilePath", &settings.certificate)?;
    let key = PrivateKeyDer::from_pem_file(&settings.key).map_err(|e| TlsError::File {
        what: "tlsKeyFilePath",
        path: settings.key.clone(),
        reason: e.to_string(),
    })?;
    let verifier: Arc<dyn ClientCertVerifier> = match &settings.trust {
        Some(path) => {
            let mut roots = RootCertStore::empty();
            for cert in read_certificates("tlsTrustCertsFilePath", path)? {
                roots
                    .add(cert)
                    .map_err(|e| TlsError::Config(format!("trusted certificate: {e}")))?;
            }
            let builder =
                WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone());
            let builder = if settings.require_client_certificate {
                builder
            } else {
                builder.allow_unauthenticated()
            };
            builder
                .build()
                .map_err(|e| TlsError::Config(e.to_string()))?
        }
        None if settings.require_client_certificate => {
            return Err(TlsError::Config(
                "tlsRequireTrustedClientCertOnConnect needs tlsTrustCertsFilePath".to_owned(),
            ))
        }
        None => WebPkiClientVerifier::no_client_auth(),
    };
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(certificates, key)
        .map_err(|e| TlsError::Config(e.to_string()))?;
    Ok(Arc::new(config))
}

fn read_certificates(
    what: &'static str,
    path: &PathBuf,
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let error = |reason: String| TlsError::File {
        what,
        path: path.clone(),
        reason,
    };
    let certificates = CertificateDer::pem_file_iter(path)
        .map_err(|e| error(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| error(e.to_string()))?;
    if certificates.is_empty() {
        return Err(error("no PEM certificate in the file".to_owned()));
    }
    Ok(certificates)
}
