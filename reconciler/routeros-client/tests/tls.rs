//! `api-ssl`: the client over TLS to the simulator behind a rustls acceptor.

use std::sync::Arc;
use std::time::Duration;

use routeros_client::rustls::{self, RootCertStore, ServerConfig};
use routeros_client::{Config, ErrorKind, TlsConfig, connect_tls};
use routeros_sim::{SimConfig, SimHandle};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

struct Pki {
    ca_der: CertificateDer<'static>,
    leaf_der: CertificateDer<'static>,
    leaf_key: Vec<u8>,
}

fn pki() -> Pki {
    let ca_key = rcgen::KeyPair::generate().expect("ca key");
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("ca params");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).expect("ca");
    let leaf_key = rcgen::KeyPair::generate().expect("leaf key");
    let leaf_params = rcgen::CertificateParams::new(vec!["router.test".to_owned()]).expect("leaf params");
    let leaf = leaf_params.signed_by(&leaf_key, &ca, &ca_key).expect("leaf");
    Pki { ca_der: ca.der().clone(), leaf_der: leaf.der().clone(), leaf_key: leaf_key.serialize_der() }
}

/// A TLS listener that hands decrypted streams to the simulator.
async fn tls_sim(pki: &Pki) -> (std::net::SocketAddr, SimHandle) {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let server = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(
            vec![pki.leaf_der.clone()],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pki.leaf_key.clone())),
        )
        .expect("server config");
    let acceptor = TlsAcceptor::from(Arc::new(server));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let sim = SimHandle::new(SimConfig::new("admin", "x"));
    let h = sim.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let h = h.clone();
            tokio::spawn(async move {
                if let Ok(tls) = acceptor.accept(tcp).await {
                    h.serve(tls);
                }
            });
        }
    });
    (addr, sim)
}

fn cfg() -> Config {
    Config::new("admin", "x").connect_timeout(Duration::from_secs(5))
}

#[tokio::test]
async fn tls_pinned_certificate_connects() {
    let pki = pki();
    let (addr, sim) = tls_sim(&pki).await;
    let tls = TlsConfig::pinned_sha256("127.0.0.1", TlsConfig::fingerprint(&pki.leaf_der));
    let (client, conn) = connect_tls(addr, &tls, &cfg()).await.expect("connect");
    tokio::spawn(conn);
    client.add("/ppp/secret", &[("name", "alice")]).await.expect("add");
    assert_eq!(sim.find("/ppp/secret", "name", "alice").len(), 1);
}

#[tokio::test]
async fn tls_wrong_pin_is_tls_error() {
    let pki = pki();
    let (addr, _sim) = tls_sim(&pki).await;
    let tls = TlsConfig::pinned_sha256("127.0.0.1", [0u8; 32]);
    let err = connect_tls(addr, &tls, &cfg()).await.expect_err("pin mismatch");
    assert_eq!(err.kind(), ErrorKind::Tls);
}

#[tokio::test]
async fn tls_ca_verification_connects_with_matching_name() {
    let pki = pki();
    let (addr, _sim) = tls_sim(&pki).await;
    let mut roots = RootCertStore::empty();
    roots.add(pki.ca_der.clone()).expect("root");
    let tls = TlsConfig::with_roots("router.test", roots);
    let (client, conn) = connect_tls(addr, &tls, &cfg()).await.expect("connect");
    tokio::spawn(conn);
    client.print("/system/identity", &[], &[]).await.expect("print");
}

#[tokio::test]
async fn tls_ca_verification_rejects_wrong_name() {
    let pki = pki();
    let (addr, _sim) = tls_sim(&pki).await;
    let mut roots = RootCertStore::empty();
    roots.add(pki.ca_der.clone()).expect("root");
    let tls = TlsConfig::with_roots("other.test", roots);
    let err = connect_tls(addr, &tls, &cfg()).await.expect_err("name mismatch");
    assert_eq!(err.kind(), ErrorKind::Tls);
}

#[test]
fn tls_pin_hex_with_colons_parses() {
    let hex = "AB:".repeat(31) + "AB";
    assert!(TlsConfig::pinned_sha256_hex("r", &hex).is_ok());
    let err = TlsConfig::pinned_sha256_hex("r", "abcd").expect_err("short");
    assert_eq!(err.kind(), ErrorKind::Config);
}
