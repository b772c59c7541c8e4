//! The hand-written probe configuration of the multi-tenant FreeRADIUS feasibility probe (the
//! project's reference `freeradius-multitenant.md`, section 3), rendered for one PostgreSQL tenant
//! so the bench can run it side by side with the generated configuration: Debian's stock tree with
//! its own `radiusd.conf` (thread pool 5/32, spare 3-10), the stock `queries.conf` (its post-auth
//! INSERT included), one `rlm_sql` instance, the realm switch, the breaker, the NAS binding and
//! the probe's virtual server. Departures from the probe, all needed to run it here: the logs and
//! the pid file go to the bench's scratch directory, the server keeps the identity it was started
//! with (the probe dropped to `freerad`), it listens on the given port, the harness's loopback
//! client is the only NAS, and Rejects are not delayed (`reject_delay = 0`, as in the generated
//! config: the harness's readiness probe is a Reject; the bench measures Accepts only).

use std::path::{Path, PathBuf};

use konnekted_radius::db::DbSettings;

/// Copy the stock tree to `dir/raddb` and write the probe's files for `realm` on `db`.
pub fn write_reference_raddb(
    base: &Path,
    dir: &Path,
    realm: &str,
    db: &DbSettings,
    auth_port: u16,
    secret: &str,
) -> PathBuf {
    let DbSettings::Postgresql { host, port, user, password, database } = db else {
        panic!("the reference config is rendered for a PostgreSQL tenant")
    };
    let raddb = dir.join("raddb");
    let log = dir.join("log");
    let run = dir.join("run");
    for d in [&log, &run] {
        std::fs::create_dir_all(d).unwrap();
    }
    let st = std::process::Command::new("cp").arg("-a").arg(base).arg(&raddb).status().expect("cp");
    assert!(st.success(), "copy {} to {}", base.display(), raddb.display());
    // radiusd.conf: the probe changed logdir, raddbdir and run_dir; we also keep our identity
    let conf = raddb.join("radiusd.conf");
    let text: String = std::fs::read_to_string(&conf)
        .unwrap()
        .lines()
        .map(|l| {
            let t = l.trim_start();
            if t.starts_with("logdir = ") {
                format!("logdir = {}", log.display())
            } else if t.starts_with("raddbdir = ") {
                format!("raddbdir = {}", raddb.display())
            } else if t.starts_with("run_dir = ") {
                format!("run_dir = {}", run.display())
            } else if t.starts_with("user = freerad") || t.starts_with("group = freerad") {
                format!("#{l}")
            } else if t.starts_with("reject_delay = ") {
                "\treject_delay = 0".to_owned()
            } else {
                l.to_owned()
            }
        })
        .map(|l| l + "\n")
        .collect();
    std::fs::write(&conf, text).unwrap();
    for f in ["sites-enabled/default", "sites-enabled/inner-tunnel", "mods-enabled/eap"] {
        let _ = std::fs::remove_file(raddb.join(f));
    }
    let files: [(String, String); 8] = [
        (
            "clients.conf".into(),
            format!(
                "client localhost {{\n\tipaddr = 127.0.0.1\n\tsecret = {secret}\n\tshortname = probe-nas\n\trequire_message_authenticator = no\n}}\n"
            ),
        ),
        (
            "proxy.conf".into(),
            "proxy server {\n\tdefault_fallback = no\n}\n$INCLUDE ${confdir}/tenants/realms/\n".to_owned(),
        ),
        (format!("tenants/realms/{realm}.conf"), format!("realm {realm} {{\n}}\n")),
        (
            format!("mods-enabled/sql_{realm}"),
            SQL_MODULE
                .replace("@@realm@@", realm)
                .replace("@@host@@", host)
                .replace("@@port@@", &port.to_string())
                .replace("@@user@@", user)
                .replace("@@password@@", password.expose())
                .replace("@@database@@", database),
        ),
        (
            "policy.d/tenant_sql.generated".into(),
            format!(
                "tenant_sql {{\n\tswitch &Realm {{\n\t\tcase \"{realm}\" {{\n\t\t\tsql_{realm}\n\t\t}}\n\t\tcase {{\n\t\t\tnoop\n\t\t}}\n\t}}\n}}\n"
            ),
        ),
        ("policy.d/tenant_static".into(), STATIC_POLICY.to_owned()),
        ("mods-enabled/tenant_breaker".into(), BREAKER.to_owned()),
        ("sites-enabled/tenants".into(), SITE.replace("@@port@@", &auth_port.to_string())),
    ];
    for (rel, text) in files {
        let p = raddb.join(&rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    raddb
}

const SQL_MODULE: &str = r#"sql sql_@@realm@@ {
	dialect = "postgresql"
	driver = "rlm_sql_postgresql"
	server = "@@host@@"
	port = @@port@@
	login = "@@user@@"
	password = "@@password@@"
	radius_db = "@@database@@"
	postgresql {
		send_application_name = yes
	}
	open_query = "SET statement_timeout = 1000"
	sql_user_name = "%{%{Stripped-User-Name}:-%{User-Name}}"
	acct_table1 = "radacct"
	acct_table2 = "radacct"
	postauth_table = "radpostauth"
	authcheck_table = "radcheck"
	groupcheck_table = "radgroupcheck"
	authreply_table = "radreply"
	groupreply_table = "radgroupreply"
	usergroup_table = "radusergroup"
	delete_stale_sessions = yes
	pool {
		start = 0
		min = 0
		max = 32
		spare = 1
		uses = 0
		retry_delay = 5
		lifetime = 0
		idle_timeout = 60
	}
	read_clients = no
	client_table = "nas"
	group_attribute = "sql_@@realm@@-SQL-Group"
	$INCLUDE ${modconfdir}/sql/main/${dialect}/queries.conf
}
"#;

const STATIC_POLICY: &str = r#"tenant_require_realm {
	if (!&Realm) {
		update reply {
			&Reply-Message := "Unknown or missing realm"
		}
		reject
	}
}

filter_username_tenant {
	if (&User-Name) {
		if (&User-Name =~ / /) {
			update request {
				&Module-Failure-Message += 'Rejected: User-Name contains whitespace'
			}
			reject
		}
		if (&User-Name =~ /@[^@]*@/ ) {
			update request {
				&Module-Failure-Message += 'Rejected: Multiple @ in User-Name'
			}
			reject
		}
		if (&User-Name =~ /\.\./ ) {
			update request {
				&Module-Failure-Message += 'Rejected: User-Name contains multiple ..s'
			}
			reject
		}
		if (&User-Name =~ /\.$/ || &User-Name =~ /@\./) {
			update request {
				&Module-Failure-Message += 'Rejected: Realm begins or ends with a dot'
			}
			reject
		}
	}
}

tenant_breaker_check {
	update control {
		&Cache-Status-Only := yes
	}
	tenant_breaker {
		notfound = 1
	}
	update control {
		&Cache-Status-Only !* ANY
	}
}

tenant_breaker_trip {
	update control {
		&Cache-Status-Only !* ANY
		&Cache-Read-Only !* ANY
	}
	tenant_breaker
}

tenant_nas_binding {
	if ("%{client:shortname}" =~ /^([^:]+):/) {
		if (&Realm != "%{1}") {
			update reply {
				&Reply-Message := "NAS not allowed for this realm"
			}
			reject
		}
	}
}
"#;

const BREAKER: &str = r#"cache tenant_breaker {
	driver = "rlm_cache_rbtree"
	key = "%{Realm}"
	ttl = 10
	update {
		&control:Tmp-String-9 := "tenant-db-down"
	}
}
"#;

const SITE: &str = r#"server tenants {
	listen {
		type = auth
		ipaddr = 127.0.0.1
		port = @@port@@
	}

	authorize {
		filter_username_tenant
		preprocess
		chap
		mschap
		suffix
		tenant_require_realm
		tenant_nas_binding
		tenant_breaker_check
		if (ok) {
			do_not_respond
		}
		tenant_sql {
			fail = 1
		}
		if (fail) {
			tenant_breaker_trip
			do_not_respond
		}
		if (notfound) {
			reject
		}
		expiration
		logintime
		pap
	}

	authenticate {
		Auth-Type PAP {
			pap
		}
		Auth-Type CHAP {
			chap
		}
		Auth-Type MS-CHAP {
			mschap
		}
	}

	post-auth {
		if (&control:Response-Packet-Type == Do-Not-Respond) {
			noop
		}
		else {
			tenant_sql {
				fail = 1
			}
			if (fail) {
				ok
			}
		}
		remove_reply_message_if_eap
		Post-Auth-Type REJECT {
			tenant_sql {
				fail = 1
			}
			attr_filter.access_reject
		}
	}
}
"#;
