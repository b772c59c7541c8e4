//! Test/bench harness: tenant databases with unique names, a FreeRADIUS process on high loopback
//! ports, and a small RADIUS client (PAP, CHAP, MS-CHAPv2 computed here; MS-CHAPv1 via radtest).
#![allow(dead_code)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use konnekted_radius::config::{NasClient, PgBouncerConfig, ServerConfig, TenantConfig, write_raddb};
use konnekted_radius::db::{DbSettings, Secret, drop_database};
use konnekted_radius::packet::{self, Attribute, Packet, attr, code, vendor};

pub const SHARED_SECRET: &str = "testing123";

/// True if the tests can run; false (after printing why) if they must be skipped.
/// Panics when FreeRADIUS is missing but `KONNEKTED_REQUIRE_FREERADIUS` is set (CI).
pub fn freeradius_or_skip(test: &str) -> bool {
    let present = Command::new("freeradius").arg("-v").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok();
    if present {
        return true;
    }
    if std::env::var_os("KONNEKTED_REQUIRE_FREERADIUS").is_some() {
        panic!(
            "{test}: the freeradius binary is missing but KONNEKTED_REQUIRE_FREERADIUS is set (run radius-sql/tests/setup.sh)"
        );
    }
    // Written to stderr directly (not eprintln!) so the test harness does not capture it.
    use std::io::Write as _;
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED {test}: freeradius binary not found (run radius-sql/tests/setup.sh; set KONNEKTED_REQUIRE_FREERADIUS=1 to make this a failure)"
    );
    false
}

pub fn unique_suffix() -> String {
    format!("{:08x}", rand::random::<u32>())
}

pub fn pg(db: &str) -> DbSettings {
    DbSettings::Postgresql {
        host: "127.0.0.1".into(),
        port: 5432,
        user: "postgres".into(),
        password: Secret::new(""),
        database: db.into(),
    }
}

pub fn mysql(db: &str) -> DbSettings {
    DbSettings::Mysql {
        host: "127.0.0.1".into(),
        port: 3306,
        user: "root".into(),
        password: Secret::new(""),
        database: db.into(),
    }
}

pub fn scratch_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("konnekted-radius-{tag}-{}", unique_suffix()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Drops the listed databases and removes the scratch dir when dropped.
pub struct Cleanup {
    pub dbs: Vec<DbSettings>,
    pub dir: Option<PathBuf>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let dbs = std::mem::take(&mut self.dbs);
        // Own thread + runtime: this may run inside (or while unwinding out of) a tokio runtime.
        let _ = std::thread::spawn(move || {
            if let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() {
                rt.block_on(async {
                    for d in &dbs {
                        let _ = drop_database(d).await;
                    }
                });
            }
        })
        .join();
        if let Some(d) = &self.dir
            && std::env::var_os("KONNEKTED_KEEP_TEST_DIR").is_none()
        {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

fn free_udp_pair() -> (u16, u16) {
    for _ in 0..200 {
        let p = 20_000 + (rand::random::<u16>() % 30_000);
        let a = std::net::UdpSocket::bind(("127.0.0.1", p));
        let b = std::net::UdpSocket::bind(("127.0.0.1", p + 1));
        if a.is_ok() && b.is_ok() {
            return (p, p + 1);
        }
    }
    panic!("no free UDP port pair");
}

pub fn server_config(dir: &Path, voucher_url: Option<String>) -> ServerConfig {
    let (auth, acct) = free_udp_pair();
    ServerConfig {
        listen_addr: "127.0.0.1".into(),
        auth_port: auth,
        acct_port: acct,
        log_dir: dir.join("log"),
        run_dir: dir.join("run"),
        voucher_edge_url: voucher_url,
        shared_clients: vec![NasClient {
            ip: "127.0.0.1".into(),
            secret: Secret::new(SHARED_SECRET),
            shortname: "harness".into(),
        }],
        ..ServerConfig::default()
    }
}

fn free_tcp_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("free TCP port")
}

fn running_as_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| o.stdout.starts_with(b"0\n")).unwrap_or(false)
}

/// PgBouncer settings for the tenants on the machine's PostgreSQL (trust auth on loopback, like
/// the server itself). Files go to `dir/pgbouncer`.
pub fn pgbouncer_config(dir: &Path, server_connection_budget: u32) -> PgBouncerConfig {
    PgBouncerConfig {
        config_dir: dir.join("pgbouncer"),
        listen_addr: "127.0.0.1".into(),
        listen_port: free_tcp_port(),
        server_connection_budget,
        burst_connections: PgBouncerConfig::default().burst_connections,
        // PgBouncer refuses to run as root; it switches to this user after start-up.
        user: running_as_root().then(|| "postgres".into()),
        auth_type: "trust".into(),
    }
}

/// A running PgBouncer on the files `write_raddb` rendered; killed on drop.
pub struct PgBouncer {
    pub child: Child,
    pub log: PathBuf,
}

impl PgBouncer {
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for PgBouncer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Start PgBouncer (after `write_raddb`/`start_radiusd` wrote its files) and wait for its port.
pub async fn start_pgbouncer(b: &PgBouncerConfig) -> PgBouncer {
    if let Some(user) = &b.user {
        // it reads its files again after dropping privileges
        let st = Command::new("chown").arg("-R").arg(user).arg(&b.config_dir).status().expect("chown");
        assert!(st.success(), "chown {} to {user}", b.config_dir.display());
    }
    let log = b.config_dir.join("stderr.log");
    let child = Command::new("pgbouncer")
        .arg(b.config_dir.join("pgbouncer.ini"))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("pgbouncer log"))
        .spawn()
        .expect("spawn pgbouncer (run radius-sql/tests/setup.sh)");
    let mut p = PgBouncer { child, log };
    for _ in 0..100 {
        if let Ok(Some(st)) = p.child.try_wait() {
            panic!("pgbouncer exited at start-up ({st}):\n{}", p.log());
        }
        if tokio::net::TcpStream::connect((b.listen_addr.as_str(), b.listen_port)).await.is_ok() {
            return p;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("pgbouncer did not listen on {}:\n{}", b.listen_port, p.log());
}

/// A running `freeradius -f` on a generated directory; killed on drop.
pub struct Radiusd {
    pub child: Child,
    pub raddb: PathBuf,
    pub server: ServerConfig,
}

impl Radiusd {
    pub fn auth_addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.server.auth_port))
    }
    pub fn acct_addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.server.acct_port))
    }
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.server.log_dir.join("radius.log")).unwrap_or_default()
    }
    pub fn stop(&mut self) {
        if let Ok(Some(_)) = self.child.try_wait() {
            return;
        }
        let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).stderr(Stdio::null()).status();
        for _ in 0..50 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Radiusd {
    /// SIGKILL and wait: requests in flight get no answer at all (see `stop` for SIGTERM).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Radiusd {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Render the config, check it with `freeradius -C`, start it and wait until it answers.
pub async fn start_radiusd(server: &ServerConfig, tenants: &[TenantConfig], dir: &Path) -> Radiusd {
    let raddb = dir.join("raddb");
    write_raddb(server, tenants, &raddb).expect("render raddb");
    spawn_radiusd(server.clone(), None, raddb).await
}

/// Start FreeRADIUS on a directory written some other way (the bench's reference config): `server`
/// gives the auth port and log directory the harness uses to reach and read it.
pub async fn start_raddb(server: ServerConfig, raddb: PathBuf) -> Radiusd {
    spawn_radiusd(server, None, raddb).await
}

/// Start one node of a cluster from an already rendered directory (`freeradius -n <node> -d <raddb>`,
/// after `-C`) and wait until it answers. Its `server` holds the node's own ports and directories.
pub async fn start_node(server: &ServerConfig, node: &str, raddb: &Path) -> Radiusd {
    let n = server.nodes.iter().find(|n| n.name == node).expect("node in config");
    let p = server.node(n);
    let own = ServerConfig {
        listen_addr: p.listen_addr,
        auth_port: p.auth_port,
        acct_port: p.acct_port,
        log_dir: p.log_dir,
        run_dir: p.run_dir,
        ..server.clone()
    };
    spawn_radiusd(own, Some(node), raddb.to_path_buf()).await
}

async fn spawn_radiusd(server: ServerConfig, node: Option<&str>, raddb: PathBuf) -> Radiusd {
    let name: Vec<&str> = node.map(|n| vec!["-n", n]).unwrap_or_default();
    let out = Command::new("freeradius").arg("-C").args(&name).arg("-d").arg(&raddb).output().unwrap();
    assert!(
        out.status.success(),
        "freeradius -C failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let child = Command::new("freeradius")
        .arg("-f")
        .args(&name)
        .arg("-d")
        .arg(&raddb)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn freeradius");
    let mut r = Radiusd { child, raddb, server };
    // Wait until it answers (a bare name gets an Access-Reject without touching any DB).
    for _ in 0..100 {
        if let Ok(Some(_)) = r.child.try_wait() {
            panic!("freeradius exited at startup; log:\n{}", r.log());
        }
        let c = Client::new(Ipv4Addr::LOCALHOST, SHARED_SECRET, r.auth_addr(), Duration::from_millis(300), 0);
        if c.pap("ping", "x").await.is_ok() {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("freeradius did not answer; log:\n{}", r.log());
}

#[derive(Debug, Clone)]
pub struct Reply {
    pub code: u8,
    pub packet: Packet,
}

impl Reply {
    pub fn accepted(&self) -> bool {
        self.code == code::ACCESS_ACCEPT
    }
    pub fn rate_limit(&self) -> Option<String> {
        self.packet.get_vendor_string(vendor::MIKROTIK, vendor::MIKROTIK_RATE_LIMIT)
    }
    pub fn address_list(&self) -> Option<String> {
        self.packet.get_vendor_string(vendor::MIKROTIK, vendor::MIKROTIK_ADDRESS_LIST)
    }
    pub fn reply_message(&self) -> Option<String> {
        self.packet.get_string(attr::REPLY_MESSAGE)
    }
    pub fn framed_ip(&self) -> Option<Ipv4Addr> {
        self.packet.get(attr::FRAMED_IP_ADDRESS).and_then(|v| <[u8; 4]>::try_from(v).ok()).map(Ipv4Addr::from)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("timeout")]
    Timeout,
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    #[error("bad response authenticator")]
    BadAuth,
}

/// A NAS impersonator: sends from `src` (a 127.0.0.x address) with `secret`.
#[derive(Debug, Clone)]
pub struct Client {
    pub src: Ipv4Addr,
    pub secret: String,
    pub server: SocketAddr,
    pub timeout: Duration,
    pub retries: u32,
}

impl Client {
    pub fn new(src: Ipv4Addr, secret: &str, server: SocketAddr, timeout: Duration, retries: u32) -> Self {
        Client { src, secret: secret.into(), server, timeout, retries }
    }

    pub async fn send(&self, mut attrs: Vec<Attribute>, authenticator: [u8; 16]) -> Result<Reply, ClientError> {
        let sock = tokio::net::UdpSocket::bind(SocketAddr::new(IpAddr::V4(self.src), 0)).await?;
        sock.connect(self.server).await?;
        attrs.push(Attribute::ipv4(attr::NAS_IP_ADDRESS, self.src));
        attrs.push(Attribute::integer(attr::NAS_PORT, 1));
        let id: u8 = rand::random();
        let mut p = Packet::new(code::ACCESS_REQUEST, id);
        p.authenticator = authenticator;
        p.attributes = attrs;
        let bytes = packet::encode_access_request(&p, self.secret.as_bytes(), true).unwrap();
        let mut buf = vec![0u8; 4096];
        for _ in 0..=self.retries {
            sock.send(&bytes).await?;
            match tokio::time::timeout(self.timeout, sock.recv(&mut buf)).await {
                Err(_) => continue,
                Ok(Err(e)) => return Err(e.into()),
                Ok(Ok(n)) => {
                    if !packet::verify_response(&buf[..n], &authenticator, self.secret.as_bytes()) {
                        return Err(ClientError::BadAuth);
                    }
                    let packet = Packet::decode(&buf[..n]).unwrap();
                    return Ok(Reply { code: packet.code, packet });
                }
            }
        }
        Err(ClientError::Timeout)
    }

    /// An Accounting-Request from this NAS to `acct` (the server's accounting address).
    pub async fn acct(
        &self,
        acct: SocketAddr,
        user: &str,
        status: u32,
        session_id: &str,
    ) -> Result<Reply, ClientError> {
        self.acct_with(acct, user, status, session_id, Vec::new()).await
    }

    /// [`acct`](Self::acct) with more attributes (session time, octets, ...).
    pub async fn acct_with(
        &self,
        acct: SocketAddr,
        user: &str,
        status: u32,
        session_id: &str,
        more: Vec<Attribute>,
    ) -> Result<Reply, ClientError> {
        let sock = tokio::net::UdpSocket::bind(SocketAddr::new(IpAddr::V4(self.src), 0)).await?;
        sock.connect(acct).await?;
        let mut p = Packet::new(code::ACCOUNTING_REQUEST, rand::random());
        p.attributes = vec![
            Attribute::string(attr::USER_NAME, user),
            Attribute::integer(attr::ACCT_STATUS_TYPE, status),
            Attribute::string(attr::ACCT_SESSION_ID, session_id),
            Attribute::ipv4(attr::NAS_IP_ADDRESS, self.src),
        ];
        p.attributes.extend(more);
        let bytes = packet::encode_signed_request(&p, self.secret.as_bytes(), false).unwrap();
        let mut buf = vec![0u8; 4096];
        for _ in 0..=self.retries {
            sock.send(&bytes).await?;
            match tokio::time::timeout(self.timeout, sock.recv(&mut buf)).await {
                Err(_) => continue,
                Ok(Err(e)) => return Err(e.into()),
                Ok(Ok(n)) => {
                    let mut req_auth = [0u8; 16];
                    req_auth.copy_from_slice(&bytes[4..20]);
                    if !packet::verify_response(&buf[..n], &req_auth, self.secret.as_bytes()) {
                        return Err(ClientError::BadAuth);
                    }
                    let packet = Packet::decode(&buf[..n]).unwrap();
                    return Ok(Reply { code: packet.code, packet });
                }
            }
        }
        Err(ClientError::Timeout)
    }

    pub async fn pap(&self, user: &str, password: &str) -> Result<Reply, ClientError> {
        let auth: [u8; 16] = rand::random();
        let hidden = packet::hide_user_password(password.as_bytes(), self.secret.as_bytes(), &auth);
        self.send(
            vec![
                Attribute::string(attr::USER_NAME, user),
                Attribute::Standard { typ: attr::USER_PASSWORD, value: hidden },
            ],
            auth,
        )
        .await
    }

    pub async fn chap(&self, user: &str, password: &str) -> Result<Reply, ClientError> {
        let auth: [u8; 16] = rand::random();
        let challenge: [u8; 16] = rand::random();
        let ident: u8 = rand::random();
        self.send(
            vec![
                Attribute::string(attr::USER_NAME, user),
                Attribute::Standard {
                    typ: attr::CHAP_PASSWORD,
                    value: packet::chap_password(ident, password.as_bytes(), &challenge),
                },
                Attribute::Standard { typ: attr::CHAP_CHALLENGE, value: challenge.to_vec() },
            ],
            auth,
        )
        .await
    }

    /// MS-CHAPv2 (RFC 2759 / RFC 2548). Returns the reply and whether the server's
    /// authenticator response (MS-CHAP2-Success "S=...") verified.
    pub async fn mschapv2(&self, user: &str, password: &str) -> Result<(Reply, bool), ClientError> {
        let auth: [u8; 16] = rand::random();
        let auth_challenge: [u8; 16] = rand::random();
        let peer_challenge: [u8; 16] = rand::random();
        let ident: u8 = rand::random();
        let nt_hash = mschap::nt_hash(password);
        let ch = mschap::challenge_hash(&peer_challenge, &auth_challenge, user);
        let nt_response = mschap::challenge_response(&ch, &nt_hash);
        let mut resp = vec![ident, 0];
        resp.extend_from_slice(&peer_challenge);
        resp.extend_from_slice(&[0; 8]);
        resp.extend_from_slice(&nt_response);
        let reply = self
            .send(
                vec![
                    Attribute::string(attr::USER_NAME, user),
                    Attribute::Vendor {
                        vendor_id: vendor::MICROSOFT,
                        typ: vendor::MS_CHAP_CHALLENGE,
                        value: auth_challenge.to_vec(),
                    },
                    Attribute::Vendor { vendor_id: vendor::MICROSOFT, typ: vendor::MS_CHAP2_RESPONSE, value: resp },
                ],
                auth,
            )
            .await?;
        let verified = reply
            .packet
            .get_vendor(vendor::MICROSOFT, vendor::MS_CHAP2_SUCCESS)
            .map(|v| {
                let expect = mschap::authenticator_response(&nt_hash, &nt_response, &ch);
                v.len() > 1 && String::from_utf8_lossy(&v[1..]) == expect
            })
            .unwrap_or(false);
        Ok((reply, verified))
    }
}

pub mod mschap {
    use des::cipher::{BlockEncrypt, KeyInit, generic_array::GenericArray};
    use md4::{Digest as _, Md4};
    use sha1::Sha1;

    pub fn nt_hash(password: &str) -> [u8; 16] {
        let utf16: Vec<u8> = password.encode_utf16().flat_map(|c| c.to_le_bytes()).collect();
        Md4::digest(&utf16).into()
    }

    pub fn challenge_hash(peer: &[u8; 16], auth: &[u8; 16], user: &str) -> [u8; 8] {
        let mut h = Sha1::new();
        h.update(peer);
        h.update(auth);
        h.update(user.as_bytes());
        let d = h.finalize();
        d[..8].try_into().unwrap()
    }

    fn des_key(k7: &[u8]) -> [u8; 8] {
        [
            k7[0] & 0xfe,
            (k7[0] << 7) | (k7[1] >> 1),
            (k7[1] << 6) | (k7[2] >> 2),
            (k7[2] << 5) | (k7[3] >> 3),
            (k7[3] << 4) | (k7[4] >> 4),
            (k7[4] << 3) | (k7[5] >> 5),
            (k7[5] << 2) | (k7[6] >> 6),
            k7[6] << 1,
        ]
    }

    pub fn challenge_response(challenge: &[u8; 8], nt_hash: &[u8; 16]) -> [u8; 24] {
        let mut z = [0u8; 21];
        z[..16].copy_from_slice(nt_hash);
        let mut out = [0u8; 24];
        for i in 0..3 {
            let key = des_key(&z[i * 7..i * 7 + 7]);
            let cipher = des::Des::new_from_slice(&key).unwrap();
            let mut block = GenericArray::clone_from_slice(challenge);
            cipher.encrypt_block(&mut block);
            out[i * 8..i * 8 + 8].copy_from_slice(&block);
        }
        out
    }

    pub fn authenticator_response(nt_hash: &[u8; 16], nt_response: &[u8; 24], challenge_hash: &[u8; 8]) -> String {
        const MAGIC1: &[u8] = b"Magic server to client signing constant";
        const MAGIC2: &[u8] = b"Pad to make it do more than one iteration";
        let hash_hash: [u8; 16] = Md4::digest(nt_hash).into();
        let mut h = Sha1::new();
        h.update(hash_hash);
        h.update(nt_response);
        h.update(MAGIC1);
        let d1 = h.finalize();
        let mut h = Sha1::new();
        h.update(d1);
        h.update(challenge_hash);
        h.update(MAGIC2);
        let d2 = h.finalize();
        let hex: String = d2.iter().map(|b| format!("{b:02X}")).collect();
        format!("S={hex}")
    }

    #[test]
    fn rfc2759_vectors() {
        // RFC 2759 section 9.2
        let nt = nt_hash("clientPass");
        assert_eq!(
            nt,
            [0x44, 0xEB, 0xBA, 0x8D, 0x53, 0x12, 0xB8, 0xD6, 0x11, 0x47, 0x44, 0x11, 0xF5, 0x69, 0x89, 0xAE]
        );
        let auth = [0x5B, 0x5D, 0x7C, 0x7D, 0x7B, 0x3F, 0x2F, 0x3E, 0x3C, 0x2C, 0x60, 0x21, 0x32, 0x26, 0x26, 0x28];
        let peer = [0x21, 0x40, 0x23, 0x24, 0x25, 0x5E, 0x26, 0x2A, 0x28, 0x29, 0x5F, 0x2B, 0x3A, 0x33, 0x7C, 0x7E];
        let ch = challenge_hash(&peer, &auth, "User");
        assert_eq!(ch, [0xD0, 0x2E, 0x43, 0x86, 0xBC, 0xE9, 0x12, 0x26]);
        let r = challenge_response(&ch, &nt);
        assert_eq!(
            r.to_vec(),
            vec![
                0x82, 0x30, 0x9E, 0xCD, 0x8D, 0x70, 0x8B, 0x5E, 0xA0, 0x8F, 0xAA, 0x39, 0x81, 0xCD, 0x83, 0x54, 0x42,
                0x33, 0x11, 0x4A, 0x3D, 0x85, 0xD6, 0xDF
            ]
        );
        assert_eq!(authenticator_response(&nt, &r, &ch), "S=407A5589115FD0D6209F510FE9C04566932CDA56");
    }
}

/// `radtest -t mschap` (MS-CHAPv1) from 127.0.0.1; returns (accepted, stdout).
pub fn radtest_mschap(user: &str, password: &str, server: SocketAddr) -> (bool, String) {
    let out = Command::new("radtest")
        .args(["-t", "mschap", user, password, &server.to_string(), "0", SHARED_SECRET])
        .output()
        .expect("radtest");
    let s = String::from_utf8_lossy(&out.stdout).into_owned();
    (s.contains("Access-Accept"), s)
}

/// Pipe attribute lines into `radclient <server> acct <secret>`; true if an Accounting-Response came back.
pub fn radclient_acct(server: SocketAddr, attrs: &str) -> bool {
    use std::io::Write;
    let mut child = Command::new("radclient")
        .args(["-r", "2", "-t", "3", &server.to_string(), "acct", SHARED_SECRET])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("radclient");
    child.stdin.take().unwrap().write_all(attrs.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stdout).contains("Accounting-Response")
}
