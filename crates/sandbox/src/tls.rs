//! TLS for the emulators that must speak HTTP/2 over TLS (APNs): a CA generated at start and a
//! server certificate for `localhost` and `127.0.0.1` signed by it. Herald is told to trust the
//! CA (`Sandbox::ca_pem`), never to skip verification. Clients may present a certificate
//! (APNs certificate auth): any is taken at the TLS layer and the emulator decides whether it
//! is the one it knows, as APNs answers `403 BadCertificate` rather than failing the handshake.

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose, SanType};
use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, SignatureScheme};
use std::sync::Arc;

/// The CA and the server configuration built on it.
pub(crate) struct SandboxTls {
    pub(crate) ca_pem: String,
    pub(crate) ca_key_pem: String,
    pub(crate) server_config: Arc<rustls::ServerConfig>,
}

impl std::fmt::Debug for SandboxTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SandboxTls")
    }
}

impl SandboxTls {
    /// A CA (new, or rebuilt on a kept key: the same key and name verify the same chains)
    /// and a fresh server certificate signed by it.
    pub(crate) fn generate(ca_key_pem: Option<&str>) -> Result<Self, String> {
        let err = |e: rcgen::Error| e.to_string();
        let ca_key = match ca_key_pem {
            Some(pem) => KeyPair::from_pem(pem).map_err(err)?,
            None => KeyPair::generate().map_err(err)?,
        };
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(err)?;
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "Herald sandbox CA");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_cert = ca_params.self_signed(&ca_key).map_err(err)?;

        let leaf_key = KeyPair::generate().map_err(err)?;
        let mut leaf_params = CertificateParams::new(vec!["localhost".to_string()]).map_err(err)?;
        leaf_params
            .subject_alt_names
            .push(SanType::IpAddress(std::net::IpAddr::from([127, 0, 0, 1])));
        leaf_params
            .distinguished_name
            .push(DnType::CommonName, "Herald sandbox");
        let leaf = leaf_params.signed_by(&leaf_key, &ca_cert, &ca_key).map_err(err)?;

        let chain = vec![
            CertificateDer::from(leaf.der().to_vec()),
            CertificateDer::from(ca_cert.der().to_vec()),
        ];
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_client_cert_verifier(Arc::new(AnyClientCertificate {
                provider: provider.clone(),
            }))
            .with_single_cert(chain, key)
            .map_err(|e| e.to_string())?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Self {
            ca_pem: ca_cert.pem(),
            ca_key_pem: ca_key.serialize_pem(),
            server_config: Arc::new(config),
        })
    }
}

/// Asks for a client certificate without requiring one and takes any whose handshake signature
/// verifies (the client holds its key); which certificates are known is the emulator's call.
#[derive(Debug)]
struct AnyClientCertificate {
    provider: Arc<CryptoProvider>,
}

impl ClientCertVerifier for AnyClientCertificate {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
