//! The agent's metrics (Prometheus text) and a minimal `GET /metrics` listener.
//!
//! Today one family: `konnekted_radius_foreign_accounting_total{nas_tenant, realm}`, Accounting-Requests
//! a tenant's NAS sent for another tenant's realm (kept out of every radacct by FreeRADIUS), counted
//! when the NAS's tenant agent reads them from the foreign-accounting log.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[derive(Debug, Default)]
pub struct Metrics {
    foreign_accounting: Mutex<BTreeMap<(String, String), u64>>,
}

impl Metrics {
    pub fn new() -> Arc<Metrics> {
        Arc::new(Metrics::default())
    }

    /// Count `n` foreign Accounting-Requests from `nas_tenant`'s NAS for `realm`.
    pub fn add_foreign_accounting(&self, nas_tenant: &str, realm: &str, n: u64) {
        let mut m = self.foreign_accounting.lock().unwrap_or_else(|e| e.into_inner());
        *m.entry((nas_tenant.to_owned(), realm.to_owned())).or_default() += n;
    }

    /// The count so far for one (NAS tenant, claimed realm) pair.
    pub fn foreign_accounting(&self, nas_tenant: &str, realm: &str) -> u64 {
        let m = self.foreign_accounting.lock().unwrap_or_else(|e| e.into_inner());
        m.get(&(nas_tenant.to_owned(), realm.to_owned())).copied().unwrap_or(0)
    }

    /// Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut s = String::from(
            "# HELP konnekted_radius_foreign_accounting_total Accounting-Requests a tenant's NAS sent for another tenant's realm (written to no radacct).\n\
             # TYPE konnekted_radius_foreign_accounting_total counter\n",
        );
        let m = self.foreign_accounting.lock().unwrap_or_else(|e| e.into_inner());
        for ((nas_tenant, realm), n) in m.iter() {
            let _ = writeln!(
                s,
                "konnekted_radius_foreign_accounting_total{{nas_tenant=\"{}\",realm=\"{}\"}} {n}",
                label(nas_tenant),
                label(realm)
            );
        }
        s
    }
}

fn label(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// Serve `GET /metrics` on `addr` until the process ends; returns the bound address.
pub async fn serve(addr: SocketAddr, metrics: Arc<Metrics>) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    tokio::spawn(async move {
        loop {
            let Ok((mut conn, _)) = listener.accept().await else { continue };
            let metrics = metrics.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 2048];
                let n = match tokio::time::timeout(std::time::Duration::from_secs(5), conn.read(&mut buf)).await {
                    Ok(Ok(n)) => n,
                    _ => return,
                };
                let req = String::from_utf8_lossy(&buf[..n]);
                let (status, body) = if req.starts_with("GET /metrics ") {
                    ("200 OK", metrics.render())
                } else {
                    ("404 Not Found", String::new())
                };
                let resp = format!(
                    "HTTP/1.1 {status}\r\ncontent-type: text/plain; version=0.0.4\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = conn.write_all(resp.as_bytes()).await;
            });
        }
    });
    Ok(bound)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_foreign_accounting_counts_per_pair() {
        let m = Metrics::new();
        m.add_foreign_accounting("acme", "beta", 2);
        m.add_foreign_accounting("acme", "beta", 1);
        let text = m.render();
        assert!(
            text.contains("konnekted_radius_foreign_accounting_total{nas_tenant=\"acme\",realm=\"beta\"} 3\n"),
            "{text}"
        );
        assert_eq!(m.foreign_accounting("acme", "gamma"), 0);
    }
}
