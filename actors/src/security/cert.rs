//! TLS client-certificate authentication (Pulsar's `AuthenticationProviderTls`): the role is
//! the common name of the certificate the client presented (already verified by rustls
//! against `tlsTrustCertsFilePath`).

use rustls_pki_types::CertificateDer;
use x509_cert::{
    der::{asn1::ObjectIdentifier, Decode, Tag, Tagged},
    Certificate,
};

use super::authn::{AuthError, AuthenticationProvider, Credentials, Identity, METHOD_TLS};

/// `id-at-commonName`.
const COMMON_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.3");

/// Authenticates by client certificate.
#[derive(Clone, Copy, Debug, Default)]
pub struct TlsProvider;

/// The subject's common name of a DER certificate.
pub fn common_name(der: &[u8]) -> Option<String> {
    let cert = Certificate::from_der(der).ok()?;
    cert.tbs_certificate
        .subject
        .0
        .iter()
        .flat_map(|rdn| rdn.0.iter())
        .filter(|atv| atv.oid == COMMON_NAME)
        .find_map(|atv| match atv.value.tag() {
            Tag::Utf8String | Tag::PrintableString | Tag::Ia5String | Tag::TeletexString => {
                std::str::from_utf8(atv.value.value())
                    .ok()
                    .map(str::to_owned)
            }
            _ => None,
        })
}

impl AuthenticationProvider for TlsProvider {
    fn method(&self) -> &'static str {
        METHOD_TLS
    }

    fn authenticate(&self, credentials: &Credentials<'_>) -> Result<Identity, AuthError> {
        let leaf: Option<&CertificateDer<'static>> = credentials
            .peer_certificates
            .and_then(|chain| chain.first());
        let leaf = leaf.ok_or_else(|| {
            AuthError::invalid(METHOD_TLS, "no client certificate was presented over TLS")
        })?;
        let role = common_name(leaf.as_ref()).ok_or_else(|| {
            AuthError::invalid(METHOD_TLS, "the client certificate has no common name")
        })?;
        Ok(Identity {
            role,
            method: METHOD_TLS.to_owned(),
            expires_at: None,
        })
    }
}
