//! Accounting sent by a tenant's NAS for another tenant's realm ("foreign accounting").
//!
//! The generated config never writes such a record to any tenant's `radacct` (the NAS binding
//! refuses it); it ACKs the NAS, keeps FreeRADIUS's `detail` copy and appends one line to
//! [`FOREIGN_ACCT_LOG`] in the log directory (the `konnekted_foreign_acct` linelog module). This
//! module parses that file and reads it incrementally, so the agent can report it to the operator
//! whose NAS sent it. Pure parsing plus a small offset-keeping reader; no FreeRADIUS, no database.
//!
//! Line format (tab-separated, one line per Accounting-Request):
//! `unix_time \t nas_shortname \t claimed_realm \t nas_ip \t user_name \t status_type \t session_id`
//! where `nas_shortname` is `<nas tenant>:<name>`.

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// File name of the foreign-accounting log inside FreeRADIUS's log directory.
pub const FOREIGN_ACCT_LOG: &str = "foreign-acct.log";

/// The linelog `format` the generated config writes (see the module docs), with real tab characters
/// (linelog keeps a `\t` escape as two characters).
pub const LINE_FORMAT: &str = "%l\t%{client:shortname}\t%{Realm}\t%{Packet-Src-IP-Address}\t%{User-Name}\t%{Acct-Status-Type}\t%{Acct-Session-Id}";

/// One Accounting-Request a tenant's NAS sent for another tenant's realm.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForeignAcct {
    /// When FreeRADIUS received it (unix seconds).
    pub at: i64,
    /// The tenant owning the NAS (the realm part of its `<realm>:<name>` shortname).
    pub nas_tenant: String,
    /// The NAS's own name within its tenant.
    pub nas_name: String,
    /// The realm the accounting claimed (another tenant's).
    pub realm: String,
    pub nas_ip: String,
    pub username: String,
    /// `Start`, `Stop`, `Interim-Update`, ...
    pub status: String,
    pub session_id: String,
}

/// Parse one line; None for a malformed line (or a NAS without a tenant prefix).
pub fn parse_line(line: &str) -> Option<ForeignAcct> {
    let f: Vec<&str> = line.trim_end_matches(['\r', '\n']).split('\t').collect();
    if f.len() != 7 {
        return None;
    }
    let at = f[0].trim().parse().ok()?;
    let (nas_tenant, nas_name) = f[1].split_once(':')?;
    if nas_tenant.is_empty() {
        return None;
    }
    Some(ForeignAcct {
        at,
        nas_tenant: nas_tenant.to_owned(),
        nas_name: nas_name.to_owned(),
        realm: f[2].to_owned(),
        nas_ip: f[3].to_owned(),
        username: f[4].to_owned(),
        status: f[5].to_owned(),
        session_id: f[6].to_owned(),
    })
}

/// Reads complete lines appended to the log since the last committed offset. A file shorter than
/// the offset (rotated or truncated) is read again from the start.
#[derive(Debug, Clone)]
pub struct ForeignAcctReader {
    path: PathBuf,
    offset: u64,
}

/// Lines read but not yet committed: [`ForeignAcctReader::commit`] moves past them once they
/// were delivered; without it the next read returns them again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForeignAcctBatch {
    pub records: Vec<ForeignAcct>,
    /// Malformed lines skipped.
    pub skipped: usize,
    end: u64,
}

impl ForeignAcctReader {
    /// Start at the beginning of the file.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        ForeignAcctReader { path: path.into(), offset: 0 }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// New complete lines since the last commit. A missing file is an empty batch.
    pub fn read(&self) -> std::io::Result<ForeignAcctBatch> {
        let mut file = match std::fs::File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(ForeignAcctBatch { records: Vec::new(), skipped: 0, end: 0 });
            }
            Err(e) => return Err(e),
        };
        let len = file.metadata()?.len();
        let start = if len < self.offset { 0 } else { self.offset };
        file.seek(SeekFrom::Start(start))?;
        let mut buf = Vec::new();
        file.take(len - start).read_to_end(&mut buf)?;
        // Only complete lines: a line FreeRADIUS is still writing is read next time.
        let complete = buf.iter().rposition(|&b| b == b'\n').map(|i| i + 1).unwrap_or(0);
        let text = String::from_utf8_lossy(&buf[..complete]);
        let mut records = Vec::new();
        let mut skipped = 0;
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            match parse_line(line) {
                Some(r) => records.push(r),
                None => skipped += 1,
            }
        }
        Ok(ForeignAcctBatch { records, skipped, end: start + complete as u64 })
    }

    /// Move past a batch returned by [`read`](Self::read).
    pub fn commit(&mut self, batch: &ForeignAcctBatch) {
        self.offset = batch.end;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINE: &str = "1795737600\tacme:pop1\tbeta\t127.0.0.2\tbob@beta\tStart\tsess-x";

    #[test]
    fn parse_line_valid_gives_every_field() {
        let r = parse_line(LINE).unwrap();
        assert_eq!(r.at, 1_795_737_600);
        assert_eq!((r.nas_tenant.as_str(), r.nas_name.as_str()), ("acme", "pop1"));
        assert_eq!((r.realm.as_str(), r.nas_ip.as_str()), ("beta", "127.0.0.2"));
        assert_eq!((r.username.as_str(), r.status.as_str(), r.session_id.as_str()), ("bob@beta", "Start", "sess-x"));
    }

    #[test]
    fn parse_line_malformed_is_none() {
        assert!(parse_line("").is_none());
        assert!(parse_line("x\tacme:pop1\tbeta\t1\tu\tStart\ts").is_none());
        assert!(parse_line("1\tnoprefix\tbeta\t1\tu\tStart\ts").is_none());
        assert!(parse_line("1\tacme:pop1\tbeta\t1\tu\tStart").is_none());
    }

    #[test]
    fn reader_uncommitted_batch_is_read_again_and_partial_line_waits() {
        let dir = std::env::temp_dir().join(format!("konnekted-foreign-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(FOREIGN_ACCT_LOG);
        let _ = std::fs::remove_file(&path);
        let mut r = ForeignAcctReader::new(&path);
        assert!(r.read().unwrap().records.is_empty(), "missing file is empty");
        std::fs::write(&path, format!("{LINE}\ngarbage\n{LINE}")).unwrap();
        let b = r.read().unwrap();
        assert_eq!((b.records.len(), b.skipped), (1, 1), "the unterminated line waits");
        assert_eq!(r.read().unwrap(), b, "not committed: same batch again");
        r.commit(&b);
        assert!(r.read().unwrap().records.is_empty());
        std::fs::write(&path, format!("{LINE}\ngarbage\n{LINE}\n")).unwrap();
        let b = r.read().unwrap();
        assert_eq!(b.records.len(), 1, "the completed line only");
        r.commit(&b);
        std::fs::write(&path, format!("{LINE}\n")).unwrap();
        assert_eq!(r.read().unwrap().records.len(), 1, "truncated file is read from the start");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
