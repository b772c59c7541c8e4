use super::*;

const ACME_VOUCHER_KEY: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

fn tenants() -> Vec<TenantConfig> {
    vec![
        TenantConfig {
            realm: "acme".into(),
            db: DbSettings::Postgresql {
                host: "127.0.0.1".into(),
                port: 5432,
                user: "radius_acme".into(),
                password: Secret::new("pw"),
                database: "tenant_acme".into(),
            },
            nas: vec![NasClient { ip: "10.1.0.1".into(), secret: Secret::new("acmesecret"), shortname: "pop1".into() }],
            vouchers: true,
            voucher_key: Some(Secret::new(ACME_VOUCHER_KEY)),
            statement_timeout_ms: None,
        },
        TenantConfig {
            realm: "beta.net".into(),
            db: DbSettings::Mysql {
                host: "127.0.0.1".into(),
                port: 3306,
                user: "radius_beta".into(),
                password: Secret::new("pw2"),
                database: "tenant_beta".into(),
            },
            nas: vec![],
            vouchers: false,
            voucher_key: None,
            statement_timeout_ms: Some(2500),
        },
    ]
}

fn stock() -> BTreeMap<Backend, String> {
    let q = "# header\nsql_user_name = \"%{User-Name}\"\npost-auth {\n\tquery = \"\\\n\t\tINSERT INTO x VALUES ('%{User-Password}', \\\"{}\\\")\"\n}\n# tail\n";
    [Backend::Postgresql, Backend::Mysql, Backend::Sqlite].into_iter().map(|b| (b, q.to_string())).collect()
}

#[test]
fn post_auth_rewrite_drops_the_password_and_keeps_the_rest() {
    let out = rewrite_post_auth_query(&stock()[&Backend::Postgresql], Backend::Postgresql, false).unwrap();
    assert!(!out.contains("User-Password"));
    assert!(out.contains("# header") && out.contains("# tail"));
    assert!(out.contains("'%{SQL-User-Name}'"));
    assert!(rewrite_post_auth_query("nothing here", Backend::Mysql, false).is_err());
}

#[test]
fn post_auth_insert_on_postgresql_skips_the_flush_wait_unless_asked() {
    let query = |b: Backend, sync: bool| {
        let out = rewrite_post_auth_query(&stock()[&b], b, sync).unwrap();
        out.split("query = \"").nth(1).unwrap().split('\n').next().unwrap().to_owned()
    };
    // one query string, two statements: SET LOCAL lasts for this INSERT's implicit transaction
    assert_eq!(query(Backend::Postgresql, false), "SET LOCAL synchronous_commit = off; \\");
    assert_eq!(query(Backend::Postgresql, true), "\\");
    // no such per-transaction setting on MariaDB; SQLite tenants have sqlite_synchronous
    assert_eq!(query(Backend::Mysql, false), "\\");
    assert_eq!(query(Backend::Sqlite, false), "\\");
    let files = render_files(&ServerConfig::default(), &tenants(), &stock()).unwrap();
    let pg = &files[Path::new("mods-config/sql/konnekted/postgresql/queries.conf")];
    assert!(pg.contains("query = \"SET LOCAL synchronous_commit = off; \\\n\t\tINSERT INTO"), "{pg}");
    let server = ServerConfig { postauth_synchronous_commit: true, ..Default::default() };
    let files = render_files(&server, &tenants(), &stock()).unwrap();
    assert!(!files[Path::new("mods-config/sql/konnekted/postgresql/queries.conf")].contains("synchronous_commit"));
    let toml: GenConfigInput = toml::from_str("[server]\npostauth_synchronous_commit = true\n").unwrap();
    assert!(toml.server.postauth_synchronous_commit);
}

#[test]
fn render_has_one_sql_instance_per_tenant_with_lazy_pool_and_timeouts() {
    let server = ServerConfig { voucher_edge_url: Some("https://edge.example/api".into()), ..Default::default() };
    let files = render_files(&server, &tenants(), &stock()).unwrap();
    let acme = &files[Path::new("mods-enabled/konnekted_sql_acme")];
    assert!(acme.contains("open_query = \"SET statement_timeout = 1000\""));
    assert!(
        acme.contains("start = 0")
            && acme.contains("min = 0")
            && acme.contains("spare = 1")
            && acme.contains("max = 32")
    );
    // sql_user_name before the include
    assert!(acme.find("sql_user_name").unwrap() < acme.find("\n\t$INCLUDE").unwrap());
    let beta = &files[Path::new("mods-enabled/konnekted_sql_beta_net")];
    assert!(beta.contains("max_statement_time = 2.500") && beta.contains("query_timeout = 3"));
    let policy = &files[Path::new("policy.d/konnekted")];
    assert!(policy.contains("case \"acme\" {\n\t\t\tkonnekted_sql_acme"));
    assert!(policy.contains("case \"beta.net\" {\n\t\t\tkonnekted_sql_beta_net"));
    // vouchers only for acme
    let voucher =
        policy.split("konnekted_voucher_lookup").nth(1).unwrap().split("konnekted_filter_username").next().unwrap();
    assert!(voucher.contains("\"acme\"") && !voucher.contains("beta.net"));
    // Each tenant's lookup carries its own key to the edge.
    assert!(
        voucher.contains(&format!("&REST-HTTP-Header := \"x-konnekted-voucher-key: {ACME_VOUCHER_KEY}\"")),
        "{voucher}"
    );
    assert!(files[Path::new("mods-enabled/konnekted_voucher")].contains("${..connect_uri}/radius/voucher"));
    // A refusal keeps the edge's Reply-Message.
    assert!(files[Path::new("sites-enabled/konnekted")].contains("elsif (reject)"));
    // A redeemed code's rows whose check items failed (another device) go to the edge as well.
    assert!(
        files[Path::new("sites-enabled/konnekted")]
            .contains("if (notfound || (!&control:Cleartext-Password && &Stripped-User-Name =~ /^[0-9A-Za-z]{12}$/))")
    );
    assert!(files.contains_key(Path::new("mods-enabled/konnekted_voucher")));
    let clients = &files[Path::new("clients.conf")];
    assert!(clients.contains("shortname = \"acme:pop1\""));
    assert!(files[Path::new("proxy.conf")].contains("realm beta.net {"));
}

fn pg_tenant(realm: &str, host: &str, user: &str, pw: &str) -> TenantConfig {
    TenantConfig {
        realm: realm.into(),
        db: DbSettings::Postgresql {
            host: host.into(),
            port: 5432,
            user: user.into(),
            password: Secret::new(pw),
            database: format!("radius_{realm}"),
        },
        nas: vec![],
        vouchers: false,
        voucher_key: None,
        statement_timeout_ms: None,
    }
}

#[test]
fn pgbouncer_shares_each_servers_budget_and_fronts_every_postgresql_tenant() {
    let bouncer = PgBouncerConfig {
        config_dir: PathBuf::from("/etc/pgbouncer"),
        listen_port: 6433,
        server_connection_budget: 10,
        ..Default::default()
    };
    let server = ServerConfig { pgbouncer: Some(bouncer.clone()), ..Default::default() };
    let mut ts = tenants(); // acme (PostgreSQL on 127.0.0.1) + beta.net (MariaDB)
    ts.push(pg_tenant("b1", "10.0.0.5", "r_b1", "p1"));
    ts.push(pg_tenant("b2", "10.0.0.5", "r_b2", "p2"));
    ts.push(pg_tenant("b3", "10.0.0.5", "r_b3", "p3"));
    ts[4].statement_timeout_ms = Some(2500);
    let pools = pgbouncer_pool_sizes(&bouncer, 32, &ts);
    // acme is alone on its server; b1..b3 split 10 three ways; MariaDB is not pooled
    assert_eq!(pools.len(), 4);
    assert_eq!(pools["konnekted_sql_acme"], TenantPool { share: 10, max: 10 });
    assert_eq!(pools["konnekted_sql_b1"], TenantPool { share: 3, max: 3 }, "no borrowing by default");
    let many: Vec<TenantConfig> = (0..50).map(|i| pg_tenant(&format!("t{i}"), "db", "r", "p")).collect();
    assert!(pgbouncer_pool_sizes(&bouncer, 32, &many).values().all(|p| p.share == 1), "never below one");

    let files = render_pgbouncer(&server, &ts).unwrap().unwrap();
    let ini = &files[Path::new("pgbouncer.ini")];
    assert!(ini.contains(
        "konnekted_sql_b3 = host=10.0.0.5 port=5432 dbname=radius_b3 user=r_b3 password='p3' pool_size=3 reserve_pool=0 max_db_connections=3 connect_query='SET statement_timeout = 2500'"
    ));
    assert!(ini.contains("pool_mode = transaction") && ini.contains("listen_port = 6433"));
    assert!(ini.contains("auth_file = /etc/pgbouncer/userlist.txt") && ini.contains("auth_type = scram-sha-256"));
    assert!(ini.contains(&format!("max_client_conn = {}", 4 * 32 + 64)));
    assert!(!ini.contains("radius_beta") && !ini.contains("\nuser ="));
    assert_eq!(
        files[Path::new("userlist.txt")],
        "\"r_b1\" \"p1\"\n\"r_b2\" \"p2\"\n\"r_b3\" \"p3\"\n\"radius_acme\" \"pw\"\n"
    );

    // FreeRADIUS talks to PgBouncer under the instance name; MariaDB tenants are untouched
    let raddb = render_files(&server, &ts, &stock()).unwrap();
    let acme = &raddb[Path::new("mods-enabled/konnekted_sql_acme")];
    assert!(
        acme.contains("server = \"127.0.0.1\"\n\tport = 6433")
            && acme.contains("radius_db = \"dbname='konnekted_sql_acme' sslmode=disable\"")
    );
    assert!(!acme.contains("open_query"), "the timeout is PgBouncer's connect_query");
    assert!(raddb[Path::new("mods-enabled/konnekted_sql_beta_net")].contains("port = 3306"));
    assert!(render_pgbouncer(&ServerConfig::default(), &ts).unwrap().is_none());
}

#[test]
fn pgbouncer_lone_busy_tenant_borrows_beyond_its_share_within_the_caps() {
    // 50 tenants on a budget of 57: a share of 1 each held one busy tenant to 125-256 auth/s
    let many: Vec<TenantConfig> = (0..50).map(|i| pg_tenant(&format!("t{i:02}"), "db", "r", "p")).collect();
    let bouncer = PgBouncerConfig { server_connection_budget: 57, burst_connections: 16, ..Default::default() };
    let pools = pgbouncer_pool_sizes(&bouncer, 32, &many);
    assert!(pools.values().all(|p| *p == TenantPool { share: 1, max: 16 }), "{pools:?}");
    let server = ServerConfig { pgbouncer: Some(bouncer.clone()), ..Default::default() };
    let ini = &render_pgbouncer(&server, &many).unwrap().unwrap()[Path::new("pgbouncer.ini")];
    assert!(ini.contains(" pool_size=1 reserve_pool=15 max_db_connections=16 "), "{ini}");
    // the borrowed connections open once a query has waited reserve_pool_timeout
    assert!(ini.contains(&format!("\nreserve_pool_timeout = {RESERVE_POOL_TIMEOUT}\n")), "{ini}");
    assert!(RESERVE_POOL_TIMEOUT.parse::<f64>().is_ok_and(|s| s > 0.0), "0 would disable the reserve pool");

    // never above the budget, nor above max_threads (no more could be busy at once)
    let wide = PgBouncerConfig { burst_connections: 16, ..PgBouncerConfig::default() };
    assert_eq!(pgbouncer_pool_sizes(&wide, 32, &many[..2])["konnekted_sql_t00"], TenantPool { share: 30, max: 30 });
    let small = PgBouncerConfig { server_connection_budget: 4, ..bouncer.clone() };
    assert_eq!(pgbouncer_pool_sizes(&small, 32, &many[..2])["konnekted_sql_t00"], TenantPool { share: 2, max: 4 });
    assert_eq!(pgbouncer_pool_sizes(&bouncer, 6, &many)["konnekted_sql_t00"], TenantPool { share: 1, max: 6 });
    // never below the share; 0 = no borrowing
    let none = PgBouncerConfig { burst_connections: 0, ..bouncer.clone() };
    assert_eq!(pgbouncer_pool_sizes(&none, 32, &many[..3])["konnekted_sql_t00"], TenantPool { share: 19, max: 19 });
    let ini = &render_pgbouncer(&ServerConfig { pgbouncer: Some(none), ..Default::default() }, &many[..3])
        .unwrap()
        .unwrap()[Path::new("pgbouncer.ini")];
    assert!(ini.contains(" pool_size=19 reserve_pool=0 max_db_connections=19 "), "{ini}");
}

#[test]
fn postgresql_on_loopback_is_reached_without_tls_elsewhere_as_libpq_prefers() {
    // libpq's default sslmode=prefer put every auth's queries through TLS on 127.0.0.1
    let mut ts = vec![
        pg_tenant("near", "127.0.0.1", "r", "p"),
        pg_tenant("here", "localhost", "r", "p"),
        pg_tenant("six", "::1", "r", "p"),
        pg_tenant("far", "10.0.0.5", "r", "p"),
    ];
    let files = render_files(&ServerConfig::default(), &ts, &stock()).unwrap();
    for realm in ["near", "here", "six"] {
        let m = &files[Path::new(&format!("mods-enabled/konnekted_sql_{realm}"))];
        assert!(m.contains(&format!("\tradius_db = \"dbname='radius_{realm}' sslmode=disable\"\n")), "{m}");
    }
    let far = &files[Path::new("mods-enabled/konnekted_sql_far")];
    assert!(far.contains("\tradius_db = \"radius_far\"\n") && !far.contains("sslmode"), "{far}");
    // through a PgBouncer on loopback: no TLS to it, whatever the tenant's server
    let pooled = ServerConfig { pgbouncer: Some(PgBouncerConfig::default()), ..Default::default() };
    let files = render_files(&pooled, &ts, &stock()).unwrap();
    assert!(
        files[Path::new("mods-enabled/konnekted_sql_far")]
            .contains("\tradius_db = \"dbname='konnekted_sql_far' sslmode=disable\"\n")
    );
    // a quote would end the libpq option early
    if let DbSettings::Postgresql { database, .. } = &mut ts[3].db {
        *database = "it's".into();
    }
    assert!(matches!(
        render_files(&ServerConfig::default(), &ts, &stock()),
        Err(ConfigError::InvalidValue { field: "db.database", .. })
    ));
}

#[test]
fn pgbouncer_refuses_what_it_could_not_serve() {
    let server = |auth: &str| ServerConfig {
        pgbouncer: Some(PgBouncerConfig { auth_type: auth.into(), ..Default::default() }),
        ..Default::default()
    };
    let two_passwords = vec![pg_tenant("a", "h", "shared", "x"), pg_tenant("b", "h", "shared", "y")];
    assert!(render_pgbouncer(&server("md5"), &two_passwords).is_err());
    let no_password = vec![pg_tenant("a", "h", "r", "")];
    assert!(render_pgbouncer(&server("scram-sha-256"), &no_password).is_err());
    assert!(render_pgbouncer(&server("trust"), &no_password).unwrap().is_some());
    assert!(render_pgbouncer(&server("password"), &no_password).is_err());
}

#[test]
fn no_voucher_module_without_edge_url() {
    let files = render_files(&ServerConfig::default(), &tenants(), &stock()).unwrap();
    assert!(!files.contains_key(Path::new("mods-enabled/konnekted_voucher")));
    assert!(!files[Path::new("policy.d/konnekted")].contains("-konnekted_voucher"));
}

#[test]
fn bad_inputs_are_refused() {
    let mut t = tenants();
    t[0].realm = "Acme".into();
    assert!(matches!(render_files(&ServerConfig::default(), &t, &stock()), Err(ConfigError::InvalidRealm(_))));
    let mut t = tenants();
    let dup = t[0].nas[0].clone();
    t[1].nas.push(dup);
    assert!(matches!(render_files(&ServerConfig::default(), &t, &stock()), Err(ConfigError::DuplicateNas(_))));
    let mut t = tenants();
    t[0].nas[0].secret = Secret::new("a'b");
    assert!(render_files(&ServerConfig::default(), &t, &stock()).is_err());
    let mut t = tenants();
    t.push(TenantConfig { realm: "beta-net".into(), ..t[1].clone() });
    assert!(matches!(render_files(&ServerConfig::default(), &t, &stock()), Err(ConfigError::DuplicateRealm(_))));
}

#[test]
fn dotless_and_dotted_realms_are_valid() {
    assert!(valid_realm("acme"));
    assert!(valid_realm("wisp-1.co.ke"));
    assert!(!valid_realm("a..b"));
    assert!(!valid_realm(".a"));
    assert!(!valid_realm("a b"));
}

#[test]
fn gen_config_input_parses_from_toml() {
    let input: GenConfigInput = toml::from_str(
        r#"
        [server]
        auth_port = 18120
        acct_port = 18130
        listen_addr = "127.0.0.1"
        log_dir = "/var/log/konnekted-radius"
        run_dir = "/run/konnekted-radius"

        [[tenants]]
        realm = "acme"
        vouchers = true
        db = { kind = "postgresql", host = "127.0.0.1", port = 5432, user = "radius_acme", password = "pw", database = "tenant_acme" }
        nas = [ { ip = "10.1.0.1", secret = "s", shortname = "pop1" } ]

        [[tenants]]
        realm = "gamma"
        db = { kind = "sqlite", path = "/var/lib/konnekted/radius/gamma.db" }
        "#,
    )
    .unwrap();
    assert_eq!(input.server.auth_port, 18120);
    assert_eq!(input.server.max_threads, 32);
    assert_eq!(input.tenants.len(), 2);
    assert_eq!(input.tenants[1].db.backend(), Backend::Sqlite);
}

#[test]
fn templates_are_filled_completely_for_every_server_shape() {
    let bare = ServerConfig::default();
    let full = ServerConfig {
        voucher_edge_url: Some("https://edge.example/".into()),
        user: Some("freerad".into()),
        group: Some("freerad".into()),
        log_auth: true,
        postauth: PostAuth::Log,
        ..Default::default()
    };
    for server in [bare, full] {
        for (path, text) in render_files(&server, &tenants(), &stock()).unwrap() {
            assert!(!text.contains("@@"), "{}: a template placeholder was left unfilled", path.display());
        }
    }
    let s = ServerConfig { user: Some("freerad".into()), ..Default::default() };
    let r = radiusd_conf(&s, &s.single());
    assert!(r.contains("security {\n\tuser = freerad\n\tallow_core_dumps = no"), "{r}");
}

fn two_nodes() -> ServerConfig {
    ServerConfig {
        listen_addr: "127.0.0.1".into(),
        auth_port: 18120,
        acct_port: 18121,
        log_dir: "/var/log/kr".into(),
        run_dir: "/run/kr".into(),
        nodes: vec![
            RadiusNode {
                name: "a".into(),
                listen_addr: None,
                auth_port: None,
                acct_port: None,
                log_dir: Some("/var/log/kr-a".into()),
                run_dir: Some("/run/kr-a".into()),
            },
            RadiusNode {
                name: "b".into(),
                listen_addr: Some("127.0.0.9".into()),
                auth_port: Some(18220),
                acct_port: Some(18221),
                log_dir: Some("/var/log/kr-b".into()),
                run_dir: Some("/run/kr-b".into()),
            },
        ],
        ..Default::default()
    }
}

#[test]
fn cluster_nodes_get_their_own_conf_and_share_everything_else() {
    let server = two_nodes();
    let files = render_files(&server, &tenants(), &stock()).unwrap();
    let a = &files[Path::new("a.conf")];
    let b = &files[Path::new("b.conf")];
    // a keeps the server's listen values, b has its own
    assert!(a.contains("konnekted_node = \"a\"") && a.contains("konnekted_auth_port = 18120"), "{a}");
    assert!(a.contains("konnekted_listen_addr = \"127.0.0.1\"") && a.contains("logdir = \"/var/log/kr-a\""));
    assert!(b.contains("konnekted_listen_addr = \"127.0.0.9\""), "{b}");
    assert!(b.contains("konnekted_auth_port = 18220") && b.contains("konnekted_acct_port = 18221"));
    assert!(b.contains("run_dir = \"/run/kr-b\"") && b.contains("freeradius -n b -d"));
    // the single-server file stays, on the server's values
    let single = &files[Path::new("radiusd.conf")];
    assert!(single.contains("konnekted_node = \"single\"") && single.contains("logdir = \"/var/log/kr\""));
    // nothing else differs between the nodes: the two files are the same outside the node's lines
    let strip = |t: &str| -> String {
        t.lines()
            .filter(|l| {
                !(l.starts_with("konnekted_")
                    || l.starts_with("logdir")
                    || l.starts_with("run_dir")
                    || l.starts_with("# Node"))
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(strip(a), strip(b));
    // the site listens on the process's values
    let site = &files[Path::new("sites-enabled/konnekted")];
    assert!(site.contains("port = ${konnekted_auth_port}") && site.contains("ipaddr = ${konnekted_listen_addr}"));
    assert!(!site.contains("18120"));
    assert_eq!(server.processes().len(), 2);
    assert_eq!(ServerConfig::default().processes().len(), 1);
}

#[test]
fn cluster_node_names_that_would_replace_a_stock_file_or_repeat_are_refused() {
    for bad in ["radiusd", "clients", "proxy", "A", "", "a.b", "../x", "-a"] {
        let mut s = two_nodes();
        s.nodes[1].name = bad.into();
        assert!(
            matches!(
                render_files(&s, &tenants(), &stock()),
                Err(ConfigError::InvalidValue { field: "nodes.name", .. })
            ),
            "{bad:?} accepted"
        );
    }
    let mut s = two_nodes();
    s.nodes[1].name = "a".into();
    assert!(render_files(&s, &tenants(), &stock()).is_err(), "duplicate node accepted");
    let mut s = two_nodes();
    s.nodes[1].log_dir = Some("/var/log/\"x".into());
    assert!(render_files(&s, &tenants(), &stock()).is_err(), "quote in a node's log_dir accepted");
}

#[test]
fn cluster_nodes_parse_from_toml() {
    let input: GenConfigInput = toml::from_str(
        r#"
        [server]
        auth_port = 1812
        [[server.nodes]]
        name = "nbo-1"
        [[server.nodes]]
        name = "nbo-2"
        auth_port = 1912
        acct_port = 1913
        "#,
    )
    .unwrap();
    let p = input.server.processes();
    assert_eq!(
        p.iter().map(|n| (n.name.as_deref(), n.auth_port)).collect::<Vec<_>>(),
        [(Some("nbo-1"), 1812), (Some("nbo-2"), 1912)]
    );
    assert!(toml::from_str::<GenConfigInput>("[[server.nodes]]\nname = \"a\"\nport = 1\n").is_err(), "unknown key");
}

#[test]
fn a_voucher_tenant_without_its_key_is_refused() {
    let server = ServerConfig { voucher_edge_url: Some("https://edge.example".into()), ..Default::default() };
    let mut t = tenants();
    assert!(validate(&server, &t).is_ok());
    t[0].voucher_key = None;
    let e = validate(&server, &t).unwrap_err().to_string();
    assert!(e.contains("voucher_key"), "{e}");
    t[0].voucher_key = Some(Secret::new("short\""));
    assert!(validate(&server, &t).is_err(), "not 64 hex digits (and no quote can reach the config)");
    // Without an edge URL no key is needed (no lookup is rendered).
    assert!(validate(&ServerConfig::default(), &[TenantConfig { voucher_key: None, ..tenants()[0].clone() }]).is_ok());
}

#[test]
fn postauth_log_writes_a_line_instead_of_the_insert() {
    let gamma = TenantConfig {
        realm: "gamma".into(),
        db: DbSettings::Sqlite { path: "/var/lib/konnekted/radius/gamma.db".into() },
        nas: vec![],
        vouchers: false,
        voucher_key: None,
        statement_timeout_ms: None,
    };
    let mut all = tenants();
    all.push(gamma.clone());
    let post_auth_policy = |files: &BTreeMap<PathBuf, String>| {
        let p = &files[&PathBuf::from("policy.d/konnekted")];
        p[p.find("konnekted_tenant_postauth {").unwrap()..p.find("konnekted_voucher_lookup {").unwrap()].to_owned()
    };
    let case = |policy: &str, realm: &str| {
        policy.split(&format!("case \"{realm}\" {{\n\t\t\t")).nth(1).unwrap().split('\n').next().unwrap().to_owned()
    };

    // Defaults: PostgreSQL and MariaDB tenants INSERT, SQLite tenants write a line.
    let default = render_files(&ServerConfig::default(), &all, &stock()).unwrap();
    let policy = post_auth_policy(&default);
    assert_eq!(case(&policy, "acme"), "konnekted_sql_acme");
    assert_eq!(case(&policy, "beta.net"), "konnekted_sql_beta_net");
    assert_eq!(case(&policy, "gamma"), "konnekted_postauth");
    // an unknown realm has no tenant to log to
    assert!(policy.contains("case {\n\t\t\tnoop"), "{policy}");
    assert!(default.contains_key(&PathBuf::from("mods-enabled/konnekted_postauth")));
    let site = &default[&PathBuf::from("sites-enabled/konnekted")];
    let post_auth = &site[site.find("post-auth {").unwrap()..];
    assert_eq!(post_auth.matches("konnekted_tenant_postauth {\t").count(), 1, "Accept: {post_auth}");
    assert_eq!(post_auth.matches("konnekted_tenant_postauth {\n").count(), 1, "Reject: {post_auth}");
    assert!(!post_auth.contains("konnekted_tenant_sql"), "{post_auth}");
    // accounting still goes to the tenant's database
    assert!(site[..site.find("post-auth {").unwrap()].contains("konnekted_tenant_sql"));
    // no tenant on the log: no linelog module
    let sql = render_files(&ServerConfig::default(), &tenants(), &stock()).unwrap();
    assert!(!sql.contains_key(&PathBuf::from("mods-enabled/konnekted_postauth")));
    let server = ServerConfig { sqlite_postauth: PostAuth::Sql, ..Default::default() };
    let policy = post_auth_policy(&render_files(&server, &all, &stock()).unwrap());
    assert_eq!(case(&policy, "gamma"), "konnekted_sql_gamma");

    let server = ServerConfig { postauth: PostAuth::Log, ..Default::default() };
    let log = render_files(&server, &all, &stock()).unwrap();
    let policy = post_auth_policy(&log);
    for realm in ["acme", "beta.net", "gamma"] {
        assert_eq!(case(&policy, realm), "konnekted_postauth", "{realm}");
    }
    let module = &log[&PathBuf::from("mods-enabled/konnekted_postauth")];
    assert!(module.contains("filename = \"${logdir}/postauth/%{Realm}/%{expr:%l / 60}.log\""), "{module}");
    assert!(module.contains(&format!("format = \"{}\"", crate::postauth::LINE_FORMAT)), "{module}");
    let toml: GenConfigInput = toml::from_str("[server]\npostauth = \"log\"\nsqlite_postauth = \"sql\"\n").unwrap();
    assert_eq!((toml.server.postauth, toml.server.sqlite_postauth), (PostAuth::Log, PostAuth::Sql));
    let toml: GenConfigInput = toml::from_str("[server]\n").unwrap();
    assert_eq!((toml.server.postauth, toml.server.sqlite_postauth), (PostAuth::Sql, PostAuth::Log));
    assert!(toml.server.postauth_log_used(&[gamma]) && !toml.server.postauth_log_used(&tenants()));
}
