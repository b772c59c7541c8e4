//! TLS for `api-ssl` (TCP 8729) with tokio-rustls (ring provider).
//!
//! Two ways to trust the router:
//! * [`TlsConfig::with_roots`]: normal WebPKI verification against the given roots
//!   (e.g. the ISP's own CA that signed the router certificates), including the name.
//! * [`TlsConfig::pinned_sha256`]: accept exactly one certificate, by the SHA-256 of
//!   its DER encoding, ignoring issuer, name and expiry. Fits self-signed router
//!   certificates. The handshake signature is still verified against that certificate.
//!
//! Routers with `api-ssl` and no certificate need anonymous Diffie-Hellman, which rustls
//! does not implement: give such routers a certificate.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use sha2::{Digest, Sha256};

use crate::{Error, ErrorKind};

#[derive(Clone)]
enum Verify {
    Roots(Arc<RootCertStore>),
    Pinned([u8; 32]),
    Custom(Arc<ClientConfig>),
}

/// How to set up TLS to a router.
#[derive(Clone)]
pub struct TlsConfig {
    server_name: String,
    verify: Verify,
}

impl std::fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mode = match &self.verify {
            Verify::Roots(_) => "roots".to_owned(),
            Verify::Pinned(pin) => format!("pinned sha256 {}", hex::encode(pin)),
            Verify::Custom(_) => "custom".to_owned(),
        };
        f.debug_struct("TlsConfig").field("server_name", &self.server_name).field("verify", &mode).finish()
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

impl TlsConfig {
    /// Normal verification: chain to `roots`, and `server_name` (DNS name or IP) must match.
    pub fn with_roots(server_name: &str, roots: RootCertStore) -> TlsConfig {
        TlsConfig { server_name: server_name.to_owned(), verify: Verify::Roots(Arc::new(roots)) }
    }

    /// Certificate pinning by SHA-256 of the router's DER certificate. `server_name`
    /// is only sent as SNI (an IP address is fine).
    pub fn pinned_sha256(server_name: &str, sha256: [u8; 32]) -> TlsConfig {
        TlsConfig { server_name: server_name.to_owned(), verify: Verify::Pinned(sha256) }
    }

    /// Like [`TlsConfig::pinned_sha256`] from 64 hex digits (colons allowed, as
    /// certificate fingerprints are often written).
    pub fn pinned_sha256_hex(server_name: &str, fingerprint: &str) -> Result<TlsConfig, Error> {
        let clean: String = fingerprint.chars().filter(|c| *c != ':').collect();
        let bytes = hex::decode(&clean)
            .ok()
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .ok_or_else(|| Error::new(ErrorKind::Config, "a SHA-256 pin is 64 hex digits"))?;
        Ok(TlsConfig::pinned_sha256(server_name, bytes))
    }

    /// Any rustls client configuration you built yourself.
    pub fn custom(server_name: &str, config: Arc<ClientConfig>) -> TlsConfig {
        TlsConfig { server_name: server_name.to_owned(), verify: Verify::Custom(config) }
    }

    /// SHA-256 of a DER certificate (what [`TlsConfig::pinned_sha256`] expects).
    pub fn fingerprint(cert_der: &[u8]) -> [u8; 32] {
        Sha256::digest(cert_der).into()
    }

    pub(crate) fn server_name(&self) -> Result<ServerName<'static>, Error> {
        ServerName::try_from(self.server_name.clone())
            .map_err(|e| Error::new(ErrorKind::Config, "invalid TLS server name").with_source(e))
    }

    pub(crate) fn client_config(&self) -> Result<Arc<ClientConfig>, Error> {
        let tls_err = |e: rustls::Error| Error::new(ErrorKind::Tls, "TLS setup").with_source(e);
        let builder = || ClientConfig::builder_with_provider(provider()).with_safe_default_protocol_versions();
        Ok(match &self.verify {
            Verify::Custom(c) => c.clone(),
            Verify::Roots(roots) => {
                Arc::new(builder().map_err(tls_err)?.with_root_certificates(roots.clone()).with_no_client_auth())
            }
            Verify::Pinned(pin) => Arc::new(
                builder()
                    .map_err(tls_err)?
                    .dangerous()
                    .with_custom_certificate_verifier(Arc::new(PinnedVerifier { pin: *pin, provider: provider() }))
                    .with_no_client_auth(),
            ),
        })
    }
}

#[derive(Debug)]
struct PinnedVerifier {
    pin: [u8; 32],
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for PinnedVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let got = TlsConfig::fingerprint(end_entity.as_ref());
        // Constant-time comparison is not needed for a public fingerprint, but costs nothing.
        let diff = got.iter().zip(self.pin.iter()).fold(0u8, |acc, (a, b)| acc | (a ^ b));
        if diff == 0 {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(rustls::CertificateError::ApplicationVerificationFailure))
        }
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
