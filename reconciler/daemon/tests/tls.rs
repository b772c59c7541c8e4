//! A router reached over `api-ssl` with the certificate pinned in the config.

mod common;

use std::sync::Arc;

use common::World;
use konnekted_reconciler::Scope;
use konnekted_reconciler::config::TlsOptions;
use routeros_client::rustls::{self, ServerConfig};
use routeros_sim::{SimConfig, SimHandle};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

/// A TLS listener (self-signed `router.test`) in front of a simulator; returns the
/// address, the simulator and the certificate's SHA-256 in hex.
async fn tls_sim() -> (std::net::SocketAddr, SimHandle, String) {
    let key = rcgen::KeyPair::generate().expect("key");
    let cert =
        rcgen::CertificateParams::new(vec!["router.test".to_owned()]).expect("params").self_signed(&key).expect("cert");
    let der: CertificateDer<'static> = cert.der().clone();
    let pin = hex::encode(routeros_client::TlsConfig::fingerprint(&der));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let server = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(vec![der], PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())))
        .expect("server config");
    let acceptor = TlsAcceptor::from(Arc::new(server));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let sim = SimHandle::new(SimConfig::new("admin", "pw"));
    let h = sim.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, h) = (acceptor.clone(), h.clone());
            tokio::spawn(async move {
                if let Ok(tls) = acceptor.accept(tcp).await {
                    h.serve(tls);
                }
            });
        }
    });
    (addr, sim, pin)
}

#[tokio::test]
async fn router_tls_pinned_certificate_reconciles_and_wrong_pin_is_refused() {
    let w = World::new("tls").await;
    w.plan("home", 10_000, 2_000).await;
    w.active_subscriber("alice", "home", None).await;
    let (addr, sim, pin) = tls_sim().await;
    let mut cfg = w.router_cfg();
    cfg.port = addr.port();
    cfg.tls = Some(TlsOptions { server_name: "router.test".into(), fingerprint_sha256: pin });
    let mut worker = konnekted_reconciler::RouterWorker::new(cfg.clone(), w.tenant.clone(), w.ctx.clone());
    let r = worker.try_step(Scope::Full).await;
    assert_eq!(r.outcome, "ok", "{r:?}");
    assert_eq!(sim.find("/ppp/secret", "name", "alice@tls").len(), 1);

    cfg.tls = Some(TlsOptions { server_name: "router.test".into(), fingerprint_sha256: "00".repeat(32) });
    let mut wrong = konnekted_reconciler::RouterWorker::new(cfg, w.tenant.clone(), w.ctx.clone());
    let r = wrong.try_step(Scope::Full).await;
    assert_eq!(r.error_label, Some("router_tls"), "{r:?}");
}
