//! The storage port over SQLite files (rusqlite): one writer connection and a small pool of
//! read-only connections per database, WAL mode.
//!
//! Writes are durable: the writer runs `synchronous=FULL`, so a batch is on disk (the log is
//! fsynced) before it is answered. A payment callback we answered 200 to must survive a power
//! cut; Safaricom does not send it again.
//!
//! Group commit pays for that fsync. Each file database has one writer thread that owns the
//! write connection and takes batches from a FIFO queue. It waits for one batch, takes whatever
//! else is already queued (up to `GROUP_JOBS` batches or `GROUP_STATEMENTS` statements) and runs
//! them in ONE transaction, each batch inside its own savepoint: one fsync per group instead of
//! one per batch, and no thread hop per batch. A batch that fails rolls back to its savepoint and
//! gets its own error (`Conflict` for a constraint) while the others go on. Answers go out only
//! after the COMMIT. If the COMMIT fails, or SQLite aborted the whole transaction by itself, each
//! batch of the group runs again alone, so one bad batch never fails its neighbours. Nothing
//! waits for a group to fill: under light load a group is a single batch. FIFO order means no
//! batch waits behind later arrivals, which keeps the tail latency close to the median.
//!
//! A batch runs to completion even if the caller's future is dropped (it is already queued), so
//! a transaction is never left half-open. The thread ends when the last clone of the database is
//! dropped. Reads run in place on the read connections. Statements are prepared once per
//! connection and cached.
//!
//! WAL checkpoints run on one background thread for all databases, on their own connections,
//! so no request's COMMIT pays for copying the log back and syncing the file. The writer only
//! checkpoints itself if the log outgrows `WRITER_CHECKPOINT_PAGES` (the background fell behind).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};
use std::time::Duration;

use konnekted_core::db::{Db, Rows, Statement, StoreError, Value};
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, OpenFlags, ToSql};
use tokio::sync::oneshot;

/// Idle read connections kept per database.
const READERS: usize = 4;
/// Prepared statements cached per connection.
const STATEMENT_CACHE: usize = 128;
/// How often the background thread checkpoints every open database.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);
/// WAL pages (4 KiB) after which a committing writer checkpoints by itself (SQLite's default is 1000).
const WRITER_CHECKPOINT_PAGES: u32 = 16_000;
/// Most batches committed as one group: bounds what one failed COMMIT sends back to run alone.
const GROUP_JOBS: usize = 64;
/// Stop adding batches to a group once it holds this many statements (keeps one COMMIT short).
const GROUP_STATEMENTS: usize = 1024;
/// Bytes of the database file each connection reads through a memory map instead of `pread`.
/// A WAL reader drops its whole page cache whenever another connection has committed, which
/// on a tenant taking payments is before nearly every read: through the map, getting the pages
/// back is a lookup instead of a system call and a copy per page. (Pages still in the log are
/// read as before.) SQLite's caveat: an I/O error on a mapped page is a signal, not an error
/// code; these files are local and only SQLite truncates them.
const MMAP_BYTES: i64 = 256 << 20;

/// One SQLite database. Cheap to clone.
#[derive(Clone)]
pub struct SqliteDb {
    inner: Arc<Inner>,
}

struct Inner {
    writer: Writer,
    readers: Mutex<Vec<Connection>>,
    /// The background checkpointer's own connection, opened on first use.
    checkpointer: Mutex<Option<Connection>>,
    /// What [`SqliteDb::data_version`] asks and counts.
    watcher: Mutex<Watcher>,
    /// In memory: batches run so far (the only connection cannot see its own commits as changes).
    memory_writes: AtomicU64,
    /// Transactions committed by the writer (a group of batches counts once).
    commits: Arc<AtomicU64>,
}

/// The connection that watches for commits, opened on first use, and what it saw last.
#[derive(Default)]
struct Watcher {
    conn: Option<Connection>,
    last: Option<i64>,
    version: u64,
}

enum Writer {
    /// A file: the queue of the writer thread, which owns the write connection.
    File { path: PathBuf, jobs: mpsc::Sender<Job> },
    /// In memory (tests): the only connection, reads go through it too. Batches run alone on
    /// tokio's blocking pool; there is no fsync to share.
    Memory(Arc<Mutex<Connection>>),
}

/// One batch for the writer thread, and where its answer goes.
struct Job {
    stmts: Vec<Statement>,
    reply: oneshot::Sender<Result<Vec<u64>, StoreError>>,
}

/// Databases the background checkpointer visits; dropped databases fall out.
fn checkpoint_registry() -> &'static Mutex<Vec<Weak<Inner>>> {
    static REGISTRY: OnceLock<Mutex<Vec<Weak<Inner>>>> = OnceLock::new();
    REGISTRY.get_or_init(|| {
        // If the thread cannot start, writers still checkpoint at WRITER_CHECKPOINT_PAGES.
        let _ = std::thread::Builder::new().name("sqlite-checkpoint".into()).spawn(|| {
            loop {
                std::thread::sleep(CHECKPOINT_EVERY);
                let live: Vec<Arc<Inner>> = {
                    let mut all = lock(checkpoint_registry());
                    all.retain(|w| w.strong_count() > 0);
                    all.iter().filter_map(Weak::upgrade).collect()
                };
                for db in live {
                    db.checkpoint();
                }
            }
        });
        Mutex::new(Vec::new())
    })
}

fn unavailable(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

fn map_err(e: rusqlite::Error) -> StoreError {
    match &e {
        rusqlite::Error::SqliteFailure(f, msg) if f.code == rusqlite::ErrorCode::ConstraintViolation => {
            StoreError::Conflict(msg.clone().unwrap_or_else(|| e.to_string()))
        }
        _ => unavailable(e),
    }
}

/// A poisoned lock only means another thread panicked while holding it; SQLite's own state is
/// consistent (an open transaction is rolled back before the next `BEGIN`, see `begin`).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn configure(conn: &Connection, writer: bool) -> Result<(), StoreError> {
    conn.busy_timeout(Duration::from_secs(5)).map_err(map_err)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    conn.pragma_update(None, "mmap_size", MMAP_BYTES).map_err(map_err)?;
    if writer {
        conn.pragma_update(None, "journal_mode", "WAL").map_err(map_err)?;
        // FULL: the log is fsynced at every COMMIT, so an answered write survives a power cut.
        conn.pragma_update(None, "synchronous", "FULL").map_err(map_err)?;
        conn.pragma_update(None, "wal_autocheckpoint", WRITER_CHECKPOINT_PAGES).map_err(map_err)?;
        // Each batch of a group runs in a savepoint, and SQLite copies every page a savepoint
        // first changes into the statement journal, which spills to a temporary file past 64 KiB:
        // a group then created, wrote and deleted a file (a fifth of the writer's time in a
        // callback profile). In memory it is a copy. (Temporary tables and sorts of the writer's
        // own statements stay in memory too; it runs short batches.)
        conn.pragma_update(None, "temp_store", "MEMORY").map_err(map_err)?;
    }
    conn.pragma_update(None, "foreign_keys", "ON").map_err(map_err)?;
    Ok(())
}

impl SqliteDb {
    pub async fn open(path: &Path) -> Result<SqliteDb, StoreError> {
        let path = path.to_owned();
        blocking(move || {
            let writer = Connection::open(&path).map_err(map_err)?;
            configure(&writer, true)?;
            let (jobs, queue) = mpsc::channel();
            let commits = Arc::new(AtomicU64::new(0));
            let counted = commits.clone();
            std::thread::Builder::new()
                .name("sqlite-writer".into())
                .spawn(move || write_loop(&writer, &queue, &counted))
                .map_err(|e| unavailable(format!("starting the writer thread: {e}")))?;
            let inner = Arc::new(Inner {
                writer: Writer::File { path, jobs },
                readers: Mutex::new(Vec::new()),
                checkpointer: Mutex::new(None),
                watcher: Mutex::new(Watcher::default()),
                memory_writes: Default::default(),
                commits,
            });
            lock(checkpoint_registry()).push(Arc::downgrade(&inner));
            Ok(SqliteDb { inner })
        })
        .await
    }

    /// A number that grows whenever a transaction has been committed to the database since it
    /// was last asked, by any connection of any process (SQLite's `PRAGMA data_version`, asked
    /// on a connection of its own). Equal answers mean nothing was committed in between. A cache
    /// of rows read from this database is good while it stays the same: take it before reading
    /// the rows.
    pub fn data_version(&self) -> Result<u64, StoreError> {
        let path = match &self.inner.writer {
            Writer::File { path, .. } => path,
            Writer::Memory(_) => return Ok(self.inner.memory_writes.load(Ordering::SeqCst)),
        };
        let mut w = lock(&self.inner.watcher);
        let conn = match w.conn.take() {
            Some(c) => c,
            None => self.inner.reader(path)?,
        };
        let seen = conn.query_row("PRAGMA data_version", [], |r| r.get::<_, i64>(0)).map_err(map_err)?;
        // SQLite's numbers only compare with the same connection's: a new connection (the old one
        // failed and was dropped above) counts as a change.
        if w.last != Some(seen) {
            w.last = Some(seen);
            w.version += 1;
        }
        w.conn = Some(conn);
        Ok(w.version)
    }

    /// How many transactions the writer has committed so far. On a file, batches that were
    /// queued together commit as one (group commit), so under concurrent writes this grows
    /// slower than the number of batches; in memory every batch is its own transaction.
    pub fn commits(&self) -> u64 {
        self.inner.commits.load(Ordering::SeqCst)
    }

    /// An in-memory database (tests). Reads go through the writer connection.
    pub async fn memory() -> Result<SqliteDb, StoreError> {
        let writer = Connection::open_in_memory().map_err(map_err)?;
        configure(&writer, false)?;
        let inner = Inner {
            writer: Writer::Memory(Arc::new(Mutex::new(writer))),
            readers: Mutex::new(Vec::new()),
            checkpointer: Mutex::new(None),
            watcher: Mutex::new(Watcher::default()),
            memory_writes: Default::default(),
            commits: Default::default(),
        };
        Ok(SqliteDb { inner: Arc::new(inner) })
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| StoreError::Unavailable(format!("storage task failed: {e}")))?
}

struct Param<'a>(&'a Value);

impl ToSql for Param<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match self.0 {
            Value::Null => ValueRef::Null,
            Value::Integer(i) => ValueRef::Integer(*i),
            Value::Real(r) => ValueRef::Real(*r),
            Value::Text(s) => ValueRef::Text(s.as_bytes()),
            Value::Blob(b) => ValueRef::Blob(b),
        }))
    }
}

fn params(s: &Statement) -> Vec<Param<'_>> {
    s.params.iter().map(Param).collect()
}

fn value(v: ValueRef<'_>) -> Result<Value, StoreError> {
    Ok(match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::Integer(i),
        ValueRef::Real(r) => Value::Real(r),
        ValueRef::Text(t) => Value::Text(
            String::from_utf8(t.to_vec()).map_err(|_| StoreError::Corrupt("text column is not UTF-8".into()))?,
        ),
        ValueRef::Blob(b) => Value::Blob(b.to_vec()),
    })
}

fn run_query(conn: &Connection, s: &Statement) -> Result<Rows, StoreError> {
    let mut stmt = conn.prepare_cached(&s.sql).map_err(map_err)?;
    let columns: Vec<String> = stmt.column_names().into_iter().map(str::to_owned).collect();
    let n = columns.len();
    let mut rows = stmt.query(rusqlite::params_from_iter(params(s))).map_err(map_err)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(map_err)? {
        let mut values = Vec::with_capacity(n);
        for i in 0..n {
            values.push(value(row.get_ref(i).map_err(map_err)?)?);
        }
        out.push(values);
    }
    Ok(Rows { columns, rows: out })
}

/// Runs the statements of one batch inside the caller's transaction; stops at the first error.
fn run_statements(conn: &Connection, stmts: &[Statement]) -> Result<Vec<u64>, StoreError> {
    let mut changed = Vec::with_capacity(stmts.len());
    for s in stmts {
        let n = conn
            .prepare_cached(&s.sql)
            .and_then(|mut st| {
                if st.column_count() == 0 {
                    return st.execute(rusqlite::params_from_iter(params(s))).map(|_| conn.changes());
                }
                // A statement with results (a SELECT, `... RETURNING`): step it to the end.
                let readonly = st.readonly();
                let mut rows = st.query(rusqlite::params_from_iter(params(s)))?;
                while rows.next()?.is_some() {}
                Ok(if readonly { 0 } else { conn.changes() })
            })
            .map_err(map_err)?;
        changed.push(n);
    }
    Ok(changed)
}

/// Runs one transaction-control statement (`BEGIN`, `COMMIT`, `SAVEPOINT`...) from the
/// connection's statement cache: the writer runs several per group, and parsing them anew each
/// time showed up in its profile.
fn control(conn: &Connection, sql: &str) -> Result<(), StoreError> {
    conn.prepare_cached(sql).and_then(|mut st| st.execute([])).map(|_| ()).map_err(map_err)
}

fn begin(conn: &Connection) -> Result<(), StoreError> {
    if !conn.is_autocommit() {
        // Only after a panic mid-transaction: finish that one off before starting ours.
        let _ = control(conn, "ROLLBACK");
    }
    control(conn, "BEGIN IMMEDIATE")
}

/// Ends the open transaction, if SQLite has not already.
fn rollback(conn: &Connection) {
    if !conn.is_autocommit() {
        let _ = control(conn, "ROLLBACK");
    }
}

/// One batch in a transaction of its own.
fn run_alone(conn: &Connection, stmts: &[Statement]) -> Result<Vec<u64>, StoreError> {
    begin(conn)?;
    let changed = run_statements(conn, stmts).and_then(|c| control(conn, "COMMIT").map(|_| c));
    if changed.is_err() {
        rollback(conn);
    }
    changed
}

/// Every job of `group` in one transaction, each in a savepoint. `None` if the transaction as a
/// whole failed (nothing of it was committed): then the jobs must run again alone.
fn run_grouped(conn: &Connection, group: &[Job]) -> Option<Vec<Result<Vec<u64>, StoreError>>> {
    let mut results = Vec::with_capacity(group.len());
    for job in group {
        if control(conn, "SAVEPOINT konnekted_job").is_err() {
            rollback(conn);
            return None;
        }
        let r = run_statements(conn, &job.stmts);
        // A failed job takes back only its own statements. SQLite may instead have aborted the
        // whole transaction (disk full, I/O error, `OR ROLLBACK`): then the group is lost.
        let ended = |conn: &Connection| {
            if r.is_err() {
                control(conn, "ROLLBACK TO konnekted_job")?;
            }
            control(conn, "RELEASE konnekted_job")
        };
        if conn.is_autocommit() || ended(conn).is_err() {
            rollback(conn);
            return None;
        }
        results.push(r);
    }
    if control(conn, "COMMIT").is_err() {
        // E.g. a deferred foreign key: only running the jobs alone tells whose it was.
        rollback(conn);
        return None;
    }
    Some(results)
}

/// Commits one group and answers its jobs, only once their writes are durable. `commits`
/// counts the transactions committed.
fn commit_group(conn: &Connection, group: Vec<Job>, commits: &AtomicU64) {
    let alone = |jobs: &[Job]| -> (Vec<Result<Vec<u64>, StoreError>>, u64) {
        let results: Vec<_> = jobs.iter().map(|job| run_alone(conn, &job.stmts)).collect();
        let committed = results.iter().filter(|r| r.is_ok()).count() as u64;
        (results, committed)
    };
    let (results, committed) = match group.as_slice() {
        [_] => alone(&group),
        _ => match begin(conn) {
            // Each job alone would have failed to begin the same way.
            Err(e) => (vec![Err(e); group.len()], 0),
            Ok(()) => match run_grouped(conn, &group) {
                Some(results) => (results, 1),
                None => alone(&group),
            },
        },
    };
    commits.fetch_add(committed, Ordering::SeqCst);
    for (job, r) in group.into_iter().zip(results) {
        // The caller may have gone away; its batch is committed all the same.
        let _ = job.reply.send(r);
    }
}

/// How long a lone batch waits for company when the previous group showed concurrent writers
/// (PostgreSQL's `commit_delay` idea): one fsync for several batches instead of one each.
const GROUP_WAIT: std::time::Duration = std::time::Duration::from_micros(250);

/// The writer thread: one group at a time, in arrival order, until every sender is dropped.
fn write_loop(conn: &Connection, queue: &mpsc::Receiver<Job>, commits: &AtomicU64) {
    let mut busy = false;
    while let Ok(first) = queue.recv() {
        let mut statements = first.stmts.len();
        let mut group = vec![first];
        let mut waited = false;
        while group.len() < GROUP_JOBS && statements < GROUP_STATEMENTS {
            let job = match queue.try_recv() {
                Ok(job) => job,
                Err(_) if busy && !waited => {
                    waited = true;
                    match queue.recv_timeout(GROUP_WAIT) {
                        Ok(job) => job,
                        Err(_) => break,
                    }
                }
                Err(_) => break,
            };
            statements += job.stmts.len();
            group.push(job);
        }
        busy = group.len() > 1;
        // A panic drops the group's reply senders (its callers see `Unavailable`); the next
        // group rolls back whatever it left open. One bug must not stop every later write.
        let _ = catch_unwind(AssertUnwindSafe(|| commit_group(conn, group, commits)));
    }
}

/// A batch is one atomic unit that the writer may group with others inside one transaction, so
/// it must not open, end or name transactions itself (that would commit or undo its neighbours).
fn controls_transactions(stmts: &[Statement]) -> bool {
    stmts.iter().any(|s| {
        let word: String = s.sql.trim_start().chars().take_while(|c| c.is_ascii_alphabetic()).collect();
        ["BEGIN", "COMMIT", "END", "ROLLBACK", "SAVEPOINT", "RELEASE"].iter().any(|w| word.eq_ignore_ascii_case(w))
    })
}

fn writer_gone() -> StoreError {
    unavailable("the database writer has stopped")
}

impl Inner {
    fn reader(&self, path: &Path) -> Result<Connection, StoreError> {
        if let Some(c) = lock(&self.readers).pop() {
            return Ok(c);
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI;
        let conn = Connection::open_with_flags(path, flags).map_err(map_err)?;
        configure(&conn, false)?;
        Ok(conn)
    }

    /// A PASSIVE checkpoint: copies what it can without waiting for readers or the writer.
    fn checkpoint(&self) {
        let Writer::File { path, .. } = &self.writer else { return };
        let mut slot = lock(&self.checkpointer);
        if slot.is_none() {
            match Connection::open(path) {
                Ok(c) if c.busy_timeout(Duration::from_secs(1)).is_ok() => *slot = Some(c),
                _ => return,
            }
        }
        if let Some(conn) = slot.as_ref() {
            // Failure (busy, or the file went away) is retried on the next round.
            let _ = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
        }
    }

    fn give_back(&self, conn: Connection) {
        let mut idle = lock(&self.readers);
        if idle.len() < READERS {
            idle.push(conn);
        }
    }
}

impl Db for SqliteDb {
    async fn query(&self, stmt: &Statement) -> Result<Rows, StoreError> {
        match &self.inner.writer {
            // Reads on a WAL file never wait for the writer and take tens of microseconds: run
            // them in place rather than paying a thread hop for each.
            Writer::File { path, .. } => {
                let conn = self.inner.reader(path)?;
                let r = run_query(&conn, stmt);
                self.inner.give_back(conn);
                r
            }
            Writer::Memory(conn) => {
                let (conn, stmt) = (conn.clone(), stmt.clone());
                blocking(move || run_query(&lock(&conn), &stmt)).await
            }
        }
    }

    async fn batch(&self, stmts: &[Statement]) -> Result<Vec<u64>, StoreError> {
        if controls_transactions(stmts) {
            return Err(unavailable("a batch may not contain BEGIN/COMMIT/ROLLBACK/SAVEPOINT/RELEASE"));
        }
        match &self.inner.writer {
            Writer::File { jobs, .. } => {
                let (reply, answer) = oneshot::channel();
                jobs.send(Job { stmts: stmts.to_vec(), reply }).map_err(|_| writer_gone())?;
                answer.await.map_err(|_| writer_gone())?
            }
            Writer::Memory(conn) => {
                let (conn, stmts) = (conn.clone(), stmts.to_vec());
                let r = blocking(move || run_alone(&lock(&conn), &stmts)).await;
                self.inner.memory_writes.fetch_add(1, Ordering::SeqCst);
                if r.is_ok() {
                    self.inner.commits.fetch_add(1, Ordering::SeqCst);
                }
                r
            }
        }
    }
}

/// The file of a `wrangler dev --local` D1 database: the SQLite file under `state` (the folder
/// `--persist-to` names) whose `staff_users` holds `login` (a local D1 file's name is a hash of the
/// database's id, so it is found by what it holds). For tests and benches that write rows straight
/// into a tenant's local D1 database, as they do into a native tenant's file.
pub fn local_d1_file(state: &Path, login: &str) -> Option<PathBuf> {
    let mut stack = vec![state.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).ok()?.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|x| x == "sqlite") {
                let Ok(conn) = Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY) else { continue };
                let found = conn
                    .query_row("SELECT COUNT(*) FROM staff_users WHERE login = ?1", [login], |r| r.get::<_, i64>(0))
                    .unwrap_or(0);
                if found > 0 {
                    return Some(path);
                }
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use konnekted_core::stmt;

    #[tokio::test]
    async fn batch_check_failure_rolls_back_everything() {
        let db = SqliteDb::memory().await.unwrap();
        db.batch(&[
            Statement::new("CREATE TABLE t (x INTEGER)"),
            Statement::new("CREATE TABLE occ_guard (changed INTEGER NOT NULL CHECK (changed = 1))"),
        ])
        .await
        .unwrap();
        let r = db
            .batch(&[
                stmt!("INSERT INTO t (x) VALUES (?1)", 1),
                Statement::new("UPDATE t SET x = 2 WHERE x = 99"),
                Statement::new("INSERT INTO occ_guard (changed) VALUES (changes())"),
            ])
            .await;
        assert!(matches!(r, Err(StoreError::Conflict(_))), "{r:?}");
        let rows = db.query(&Statement::new("SELECT COUNT(*) AS n FROM t")).await.unwrap();
        assert_eq!(rows.first().unwrap().int("n").unwrap(), 0);
    }

    #[tokio::test]
    async fn batch_reports_rows_changed_per_statement() {
        let db = SqliteDb::memory().await.unwrap();
        let n = db
            .batch(&[
                Statement::new("CREATE TABLE t (x INTEGER)"),
                Statement::new("INSERT INTO t (x) VALUES (1), (2), (3)"),
                Statement::new("UPDATE t SET x = x + 1 WHERE x >= 2"),
                Statement::new("SELECT 1"),
            ])
            .await
            .unwrap();
        assert_eq!(n[1..], [3, 2, 0]);
    }

    #[tokio::test]
    async fn query_decodes_every_storage_class() {
        let db = SqliteDb::memory().await.unwrap();
        let rows = db
            .query(&stmt!("SELECT 1 AS i, 1.5 AS r, 'x' AS t, x'00ff' AS b, NULL AS n, ?1 AS p", "bound"))
            .await
            .unwrap();
        assert_eq!(rows.columns, ["i", "r", "t", "b", "n", "p"]);
        assert_eq!(
            rows.rows[0],
            vec![
                Value::Integer(1),
                Value::Real(1.5),
                Value::Text("x".into()),
                Value::Blob(vec![0, 255]),
                Value::Null,
                Value::Text("bound".into())
            ]
        );
    }

    #[tokio::test]
    async fn readers_see_committed_writes_on_a_file() {
        let dir = std::env::temp_dir().join(format!("konnekted-sqlite-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("readers.sqlite");
        let _ = std::fs::remove_file(&path);
        let db = SqliteDb::open(&path).await.unwrap();
        db.batch(&[Statement::new("CREATE TABLE t (x INTEGER UNIQUE)"), stmt!("INSERT INTO t VALUES (?1)", 7)])
            .await
            .unwrap();
        let select = Statement::new("SELECT x FROM t");
        let reads = futures::future::join_all((0..16).map(|_| db.query(&select))).await;
        for r in reads {
            assert_eq!(r.unwrap().first().unwrap().int("x").unwrap(), 7);
        }
        let dup = db.batch(&[stmt!("INSERT INTO t VALUES (?1)", 7)]).await;
        assert!(matches!(dup, Err(StoreError::Conflict(_))), "{dup:?}");
        let r = db.query(&Statement::new("INSERT INTO t VALUES (8)")).await;
        assert!(r.is_err(), "read connections are read-only");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn the_background_thread_checkpoints_the_log_into_the_file() {
        let dir = std::env::temp_dir().join(format!("konnekted-ckpt-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("ckpt.sqlite");
        let _ = std::fs::remove_file(&path);
        let db = SqliteDb::open(&path).await.unwrap();
        db.batch(&[Statement::new("CREATE TABLE t (b BLOB)")]).await.unwrap();
        for _ in 0..50 {
            let rows: Vec<Statement> = (0..10).map(|_| stmt!("INSERT INTO t VALUES (?1)", vec![7u8; 1000])).collect();
            db.batch(&rows).await.unwrap();
        }
        // 500 KB sit in the WAL, far below the writer's own threshold; only the background
        // thread can have moved them into the database file.
        let mut size = 0;
        for _ in 0..50 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            size = std::fs::metadata(&path).unwrap().len();
            if size > 400_000 {
                break;
            }
        }
        assert!(size > 400_000, "database file is {size} bytes: the log was not checkpointed");
        drop(db);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A new database file in a directory of its own; remove the directory when done.
    async fn file_db(name: &str) -> (SqliteDb, PathBuf, PathBuf) {
        let dir = std::env::temp_dir().join(format!("konnekted-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("db.sqlite");
        (SqliteDb::open(&path).await.unwrap(), path, dir)
    }

    async fn count(db: &SqliteDb, table: &str) -> i64 {
        let rows = db.query(&Statement::new(format!("SELECT COUNT(*) AS n FROM {table}"))).await.unwrap();
        rows.first().unwrap().int("n").unwrap()
    }

    /// Queues `batches` in order behind a write lock held by a second connection, then lets the
    /// writer go: they are all waiting when it starts, so they commit as groups.
    async fn run_queued(db: &SqliteDb, path: &Path, batches: &[Vec<Statement>]) -> Vec<Result<Vec<u64>, StoreError>> {
        let blocker = Connection::open(path).unwrap();
        blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
        let mut pending: Vec<_> = batches.iter().map(|b| Box::pin(db.batch(b))).collect();
        for f in &mut pending {
            assert!(futures::poll!(f.as_mut()).is_pending());
        }
        blocker.execute_batch("COMMIT").unwrap();
        futures::future::join_all(pending).await
    }

    #[tokio::test]
    async fn concurrent_batches_each_get_their_own_answer() {
        let (db, _, dir) = file_db("concurrent").await;
        db.batch(&[
            Statement::new("CREATE TABLE t (x INTEGER UNIQUE)"),
            Statement::new("CREATE TABLE log (i INTEGER)"),
            Statement::new("CREATE TABLE counter (n INTEGER)"),
            Statement::new("INSERT INTO counter VALUES (0)"),
            Statement::new("INSERT INTO t VALUES (0)"),
        ])
        .await
        .unwrap();
        // Every fifth batch inserts a taken value: its log row must go too.
        let batches: Vec<Vec<Statement>> = (0..200)
            .map(|i| {
                let x = if i % 5 == 0 { 0 } else { i };
                vec![
                    stmt!("INSERT INTO log VALUES (?1)", i),
                    stmt!("INSERT INTO t VALUES (?1)", x),
                    Statement::new("UPDATE counter SET n = n + 1"),
                ]
            })
            .collect();
        let results = futures::future::join_all(batches.iter().map(|b| db.batch(b))).await;
        for (i, r) in results.into_iter().enumerate() {
            if i % 5 == 0 {
                assert!(matches!(r, Err(StoreError::Conflict(_))), "batch {i}: {r:?}");
            } else {
                assert_eq!(r.unwrap(), [1, 1, 1], "batch {i}");
            }
        }
        assert_eq!(count(&db, "log").await, 160);
        assert_eq!(count(&db, "t").await, 161);
        let n = db.query(&Statement::new("SELECT n FROM counter")).await.unwrap();
        assert_eq!(n.first().unwrap().int("n").unwrap(), 160);
        drop(db);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn a_failing_batch_takes_back_only_its_own_statements_in_a_group() {
        let (db, path, dir) = file_db("group").await;
        db.batch(&[
            Statement::new("CREATE TABLE t (x INTEGER UNIQUE)"),
            Statement::new("CREATE TABLE occ_guard (changed INTEGER NOT NULL CHECK (changed = 1))"),
        ])
        .await
        .unwrap();
        let results = run_queued(
            &db,
            &path,
            &[
                vec![Statement::new("INSERT INTO t VALUES (1), (2), (3)")],
                // Fails on its second statement, against a row of an earlier batch of the group.
                vec![Statement::new("INSERT INTO t VALUES (10)"), Statement::new("INSERT INTO t VALUES (1)")],
                // Sees the first batch's rows, not the failed one's.
                vec![Statement::new("UPDATE t SET x = x + 100 WHERE x >= 2"), Statement::new("SELECT 1")],
                // A version guard that finds nothing to update.
                vec![
                    Statement::new("INSERT INTO t VALUES (20)"),
                    Statement::new("UPDATE t SET x = 2 WHERE x = 99"),
                    Statement::new("INSERT INTO occ_guard (changed) VALUES (changes())"),
                ],
                vec![Statement::new("INSERT INTO t VALUES (4)")],
            ],
        )
        .await;
        assert_eq!(results[0], Ok(vec![3]));
        assert!(matches!(results[1], Err(StoreError::Conflict(_))), "{:?}", results[1]);
        assert_eq!(results[2], Ok(vec![2, 0]));
        assert!(matches!(results[3], Err(StoreError::Conflict(_))), "{:?}", results[3]);
        assert_eq!(results[4], Ok(vec![1]));
        let rows = db.query(&Statement::new("SELECT x FROM t ORDER BY x")).await.unwrap();
        let xs: Vec<i64> = rows.iter().map(|r| r.int("x").unwrap()).collect();
        assert_eq!(xs, [1, 4, 102, 103]);
        assert_eq!(count(&db, "occ_guard").await, 0);
        drop(db);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn batches_queued_together_commit_once_and_each_get_their_own_answer() {
        let (db, path, dir) = file_db("shared-commit").await;
        db.batch(&[Statement::new("CREATE TABLE t (x INTEGER UNIQUE)"), Statement::new("INSERT INTO t VALUES (0)")])
            .await
            .unwrap();
        let before = db.commits();
        // 40 batches of two rows; every fourth one's second row is taken.
        let batches: Vec<Vec<Statement>> = (1..=40)
            .map(|i: i64| {
                let second = if i % 4 == 0 { 0 } else { 1000 + i };
                vec![stmt!("INSERT INTO t VALUES (?1)", i), stmt!("INSERT INTO t VALUES (?1)", second)]
            })
            .collect();
        let results = run_queued(&db, &path, &batches).await;
        for (i, r) in (1..=40).zip(&results) {
            if i % 4 == 0 {
                assert!(matches!(r, Err(StoreError::Conflict(_))), "batch {i}: {r:?}");
            } else {
                assert_eq!(r, &Ok(vec![1, 1]), "batch {i}");
            }
        }
        // The writer may have taken the first batch alone before the others were queued; the
        // rest were all waiting behind the lock and share one COMMIT (one fsync), not 40.
        let commits = db.commits() - before;
        assert!((1..=2).contains(&commits), "{commits} commits for 40 queued batches");
        let rows = db.query(&Statement::new("SELECT x FROM t ORDER BY x")).await.unwrap();
        let xs: Vec<i64> = rows.iter().map(|r| r.int("x").unwrap()).collect();
        let good = (1..=40).filter(|i| i % 4 != 0);
        let mut expected: Vec<i64> = std::iter::once(0).chain(good.clone()).chain(good.map(|i| 1000 + i)).collect();
        expected.sort_unstable();
        assert_eq!(xs, expected, "only the good batches persist, whole");
        drop(db);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn a_batch_that_sinks_the_group_transaction_does_not_fail_its_neighbours() {
        let (db, path, dir) = file_db("sink").await;
        db.batch(&[
            Statement::new("CREATE TABLE t (x INTEGER UNIQUE)"),
            Statement::new("CREATE TABLE child (p INTEGER REFERENCES t (x) DEFERRABLE INITIALLY DEFERRED)"),
            Statement::new("INSERT INTO t VALUES (1)"),
        ])
        .await
        .unwrap();
        let insert = |x: i64| vec![stmt!("INSERT INTO t VALUES (?1)", x)];
        let sinkers = [
            // OR ROLLBACK: SQLite ends the whole transaction, not just this statement.
            vec![stmt!("INSERT INTO t VALUES (10)"), Statement::new("INSERT OR ROLLBACK INTO t VALUES (1)")],
            // A deferred foreign key fails only at COMMIT.
            vec![Statement::new("INSERT INTO child VALUES (99)")],
        ];
        for (round, sinker) in sinkers.into_iter().enumerate() {
            let x = 2 + 3 * round as i64;
            let results = run_queued(&db, &path, &[insert(x), insert(x + 1), sinker, insert(x + 2)]).await;
            for i in [0, 1, 3] {
                assert_eq!(results[i], Ok(vec![1]), "round {round}, batch {i}");
            }
            assert!(matches!(results[2], Err(StoreError::Conflict(_))), "round {round}: {:?}", results[2]);
        }
        let rows = db.query(&Statement::new("SELECT x FROM t ORDER BY x")).await.unwrap();
        let xs: Vec<i64> = rows.iter().map(|r| r.int("x").unwrap()).collect();
        assert_eq!(xs, [1, 2, 3, 4, 5, 6, 7]);
        assert_eq!(count(&db, "child").await, 0);
        drop(db);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn a_dropped_caller_still_gets_its_batch_applied() {
        let (db, path, dir) = file_db("dropped").await;
        db.batch(&[Statement::new("CREATE TABLE t (x INTEGER)")]).await.unwrap();
        let blocker = Connection::open(&path).unwrap();
        blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
        let first = [Statement::new("INSERT INTO t VALUES (1)")];
        let mut abandoned = Box::pin(db.batch(&first));
        assert!(futures::poll!(abandoned.as_mut()).is_pending());
        drop(abandoned);
        blocker.execute_batch("COMMIT").unwrap();
        // Batches run in arrival order: once this one is answered, the dropped one has committed.
        db.batch(&[Statement::new("INSERT INTO t VALUES (2)")]).await.unwrap();
        assert_eq!(count(&db, "t").await, 2);
        drop(db);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn a_batch_may_not_control_transactions_itself() {
        let (db, _path, dir) = file_db("txctl").await;
        db.batch(&[Statement::new("CREATE TABLE t (x INTEGER)")]).await.unwrap();
        for sql in ["COMMIT", "  rollback", "SAVEPOINT s", "release s", "BEGIN IMMEDIATE", "END"] {
            let r = db.batch(&[stmt!("INSERT INTO t VALUES (?1)", 1), Statement::new(sql)]).await;
            assert!(matches!(r, Err(StoreError::Unavailable(_))), "{sql}: {r:?}");
        }
        assert_eq!(count(&db, "t").await, 0, "refused batches write nothing");
        // words that merely start like one are fine
        db.batch(&[Statement::new("CREATE TABLE ending (x INTEGER)")]).await.unwrap();
        drop(db);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn the_writer_thread_ends_with_the_last_handle() {
        let (db, path, dir) = file_db("ends").await;
        db.batch(&[Statement::new("CREATE TABLE t (x INTEGER)")]).await.unwrap();
        let wal = dir.join("db.sqlite-wal");
        assert!(wal.exists());
        let clone = db.clone();
        drop(db);
        clone.batch(&[Statement::new("INSERT INTO t VALUES (1)")]).await.unwrap();
        drop(clone);
        // SQLite removes the log when the last connection closes: the writer's is the last one.
        for _ in 0..100 {
            if !wal.exists() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(!wal.exists(), "the write connection is still open");
        let conn = Connection::open(&path).unwrap();
        assert_eq!(conn.query_row("SELECT COUNT(*) FROM t", [], |r| r.get::<_, i64>(0)).unwrap(), 1);
        drop(conn);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
