//! Post-auth rows written in batches instead of one INSERT per Access-Request.
//!
//! With `[server] postauth = "log"` the generated config does not INSERT into the tenant's
//! `radpostauth` while it answers; it appends one line per Accept or Reject to
//! `<log_dir>/postauth/<realm>/<minute>.log` (the `konnekted_postauth` linelog module; `<minute>`
//! is the request's unix time / 60). [`load_realm`] (run by the RADIUS agent on every pass) loads
//! each finished minute's file into that tenant's `radpostauth` in one transaction and removes it.
//! The answer to the NAS then costs only the tenant's SELECTs (measured in BENCHMARKS.md): on
//! PostgreSQL the INSERT was a sixth round trip and a WAL commit per auth, on SQLite it took the
//! file's single write lock, and 32 threads waited for it in SQLite's sleeping busy handler.
//!
//! Rows reach `radpostauth` one to two minutes after the auth (plus the agent's pass interval).
//! A file is loaded only once its minute ended more than a minute ago, so FreeRADIUS (which
//! finishes a request within `max_request_time`) no longer writes to it. If the agent dies between
//! the commit and the removal, the next pass loads that file again (duplicate log rows, never
//! lost ones).
//!
//! Line format (tab-separated): `unix_seconds \t microseconds \t reply \t username`, where `reply`
//! is `Access-Accept` or `Access-Reject` and `username` is the name without the realm (what the
//! SQL post-auth query stored), percent-encoded by `%{urlquote:}` (linelog writes values raw, and
//! a NAS may send a tab or a newline in a User-Name); [`parse_line`] decodes it.

use std::path::{Path, PathBuf};

use crate::db::{Backend, DbError, RadiusDb};

/// Directory under FreeRADIUS's log directory holding one sub-directory per realm.
pub const POSTAUTH_DIR: &str = "postauth";

/// The linelog `format` (with real tab characters: linelog keeps a `\t` escape as two characters).
pub const LINE_FORMAT: &str = "%l\t%M\t%{reply:Packet-Type}\t%{urlquote:%{%{Stripped-User-Name}:-%{User-Name}}}";

/// The linelog `filename` below `${logdir}`: one file per realm and minute.
pub const FILE_NAME_FORMAT: &str = "postauth/%{Realm}/%{expr:%l / 60}.log";

/// Rows per INSERT statement (4 bound values each; far below every backend's parameter limit).
const ROWS_PER_INSERT: usize = 500;

/// One Access-Accept or Access-Reject as FreeRADIUS logged it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostAuthRow {
    pub unix_secs: i64,
    pub micros: i64,
    /// `Access-Accept` or `Access-Reject`.
    pub reply: String,
    pub username: String,
}

/// Undo `%{urlquote:...}` (`%XX` for every byte outside `[A-Za-z0-9_.~-]`): linelog itself
/// writes values raw, so a tab or newline in a User-Name would otherwise split the line.
fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Parse one line; None for a malformed one.
pub fn parse_line(line: &str) -> Option<PostAuthRow> {
    let f: Vec<&str> = line.trim_end_matches(['\r', '\n']).split('\t').collect();
    let [secs, micros, reply, user] = f.as_slice() else { return None };
    let unix_secs: i64 = secs.trim().parse().ok()?;
    let micros: i64 = micros.trim().parse().ok().filter(|m| (0..1_000_000).contains(m))?;
    if !reply.starts_with("Access-") {
        return None;
    }
    Some(PostAuthRow { unix_secs, micros, reply: (*reply).to_owned(), username: percent_decode(user)? })
}

/// The finished minute files of one realm's directory (oldest first): `<minute>.log` whose minute
/// ended at least 60 s before `now_unix`. Anything else in the directory is left alone.
pub fn ready_files(realm_dir: &Path, now_unix: i64) -> std::io::Result<Vec<PathBuf>> {
    let entries = match std::fs::read_dir(realm_dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut ready = Vec::new();
    for entry in entries {
        let path = entry?.path();
        let Some(minute) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".log"))
            .and_then(|m| m.parse::<i64>().ok())
        else {
            continue;
        };
        if (minute + 2) * 60 <= now_unix {
            ready.push((minute, path));
        }
    }
    ready.sort();
    Ok(ready.into_iter().map(|(_, p)| p).collect())
}

/// What one load did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadReport {
    pub files: usize,
    pub rows: u64,
    /// Malformed lines skipped (and counted, never loaded).
    pub skipped: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("post-auth log {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Db(#[from] DbError),
}

/// The INSERT for `n` rows in `backend`'s dialect: username, reply, seconds, microseconds per row.
pub fn insert_sql(backend: Backend, n: usize) -> String {
    let mut sql = String::from("INSERT INTO radpostauth (username, pass, reply, authdate) VALUES ");
    for r in 0..n {
        let p = |k: usize| backend.ph(r * 4 + k + 1);
        let (user, reply, secs, us) = (p(0), p(1), p(2), p(3));
        let at = match backend {
            Backend::Postgresql => format!("to_timestamp({secs}) + {us} * interval '1 microsecond'"),
            Backend::Mysql => format!("FROM_UNIXTIME({secs} + {us} / 1000000)"),
            // the text FreeRADIUS's own query writes ('%S.%M'), in UTC
            Backend::Sqlite => format!("datetime({secs}, 'unixepoch') || '.' || printf('%06d', {us})"),
        };
        if r > 0 {
            sql.push_str(", ");
        }
        sql.push_str(&format!("({user}, '', {reply}, {at})"));
    }
    sql
}

/// Insert `rows` into the tenant's `radpostauth` in one transaction.
pub async fn insert_rows(db: &RadiusDb, rows: &[PostAuthRow]) -> Result<(), DbError> {
    let mut tx = db.pool().begin().await?;
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        let sql = insert_sql(db.backend(), chunk.len());
        let mut q = sqlx::query(&sql);
        for r in chunk {
            q = q.bind(r.username.clone()).bind(r.reply.clone()).bind(r.unix_secs).bind(r.micros);
        }
        q.execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Load every finished minute file of `realm` under `log_dir` (FreeRADIUS's log directory) into
/// `db`, one transaction per file, removing each file once its rows are committed.
pub async fn load_realm(db: &RadiusDb, log_dir: &Path, realm: &str, now_unix: i64) -> Result<LoadReport, LoadError> {
    let dir = log_dir.join(POSTAUTH_DIR).join(realm);
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| LoadError::Io { path, source }
    };
    let mut report = LoadReport::default();
    for path in ready_files(&dir, now_unix).map_err(io(&dir))? {
        let bytes = std::fs::read(&path).map_err(io(&path))?;
        let text = String::from_utf8_lossy(&bytes);
        let mut rows = Vec::new();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            match parse_line(line) {
                Some(r) => rows.push(r),
                None => report.skipped += 1,
            }
        }
        if !rows.is_empty() {
            insert_rows(db, &rows).await?;
        }
        std::fs::remove_file(&path).map_err(io(&path))?;
        report.files += 1;
        report.rows += rows.len() as u64;
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_line_valid_gives_every_field() {
        let r = parse_line("1795737600\t000042\tAccess-Accept\tu1\n").unwrap();
        assert_eq!(
            r,
            PostAuthRow { unix_secs: 1_795_737_600, micros: 42, reply: "Access-Accept".into(), username: "u1".into() }
        );
    }

    #[test]
    fn parse_line_quoted_name_is_decoded() {
        // what FreeRADIUS wrote for "u\nx\\y\t%zé" (seen in a real run)
        let r = parse_line("1796409041\t529987\tAccess-Reject\tu%0Ax%5Cy%09%25z%C3%A9").unwrap();
        assert_eq!(r.username, "u\nx\\y\t%zé");
    }

    #[test]
    fn parse_line_malformed_is_none() {
        for bad in [
            "",
            "x\t0\tAccess-Accept\tu",
            "1\t1000000\tAccess-Accept\tu",
            "1\t0\tAccounting-Response\tu",
            "1\t0\tAccess-Accept",
            "1\t0\tAccess-Accept\tu\textra",
            "1\t0\tAccess-Accept\tbad%4",
            "1\t0\tAccess-Accept\tbad%zz",
        ] {
            assert_eq!(parse_line(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn ready_files_only_minutes_ended_a_minute_ago() {
        let dir =
            std::env::temp_dir().join(format!("konnekted-postauth-{}-{}", std::process::id(), rand::random::<u32>()));
        std::fs::create_dir_all(&dir).unwrap();
        for name in ["100.log", "101.log", "102.log", "99.log", "notes.txt", "x.log"] {
            std::fs::write(dir.join(name), "").unwrap();
        }
        // now = 102:30 (minute 102): minutes 99 and 100 ended >= 60 s ago, 101 only 30 s ago
        let got = ready_files(&dir, 102 * 60 + 30).unwrap();
        assert_eq!(got, [dir.join("99.log"), dir.join("100.log")]);
        assert_eq!(ready_files(&dir.join("missing"), 0).unwrap(), Vec::<PathBuf>::new());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn insert_sql_binds_four_values_per_row() {
        let pg = insert_sql(Backend::Postgresql, 2);
        assert!(pg.contains("($5, '', $6, to_timestamp($7) + $8 * interval '1 microsecond')"), "{pg}");
        let lite = insert_sql(Backend::Sqlite, 1);
        assert!(lite.ends_with("(?, '', ?, datetime(?, 'unixepoch') || '.' || printf('%06d', ?))"), "{lite}");
    }
}
