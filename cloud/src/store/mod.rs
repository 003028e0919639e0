//! The cloud's storage layer: one typed [`Store`] over the database, the only place in the
//! service that writes SQL. Methods are grouped by table (one file each: devices and their chain
//! tips, evidence records, alarms, uploads, clips, listings, requests and the indexer's
//! progress, relays, request nonces); rows are read by column name into typed rows whose states
//! are the enums of `dashledger-api`.
//!
//! Two back ends, one schema: an SQLite file (default) or PostgreSQL (by URL), through sqlx's
//! `Any` driver. Every query uses `$n` parameters and SQL both understand; the integration tests
//! run every method on both, for real (`cloud/tests/api.rs`, PostgreSQL from Debian's binaries).
//! Compile-time checked queries (`query!`) are not used: they check against one driver, and the
//! `Any` pool that serves both back ends has no compile-time form.
//!
//! Migrations are sqlx's [`Migrator`] over `migrations/{sqlite,postgres}/NNNN_name.sql`
//! (embedded with `include_str!`; `Migrator::with_migrations` is what `sqlx::migrate!` expands
//! to, without the macro crate, which would build both database drivers a second time for the
//! host). Each runs in a transaction and is recorded with its checksum in `_sqlx_migrations`;
//! a database whose migrations this binary does not know is refused. Databases made before the
//! switch (a `schema_migrations` table) are adopted: their versions are marked applied, then the
//! rest run.
//!
//! Writes that must be atomic go through a [`Tx`] (`Store::begin_write`), whose methods live
//! next to the pool-level ones of the same table.

pub mod alarms;
pub mod clips;
pub mod devices;
pub mod listings;
pub mod nonces;
pub mod records;
pub mod relays;
pub mod requests;
pub mod uploads;

/// An address as the database keys it: lower-case `0x` hex.
pub fn addr_key(a: &alloy::primitives::Address) -> String {
    format!("{a:#x}")
}

use std::borrow::Cow;
use std::time::Duration;

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::{AnyPool, Executor, Row, SqlSafeStr};

use crate::error::CloudError;

/// Which database backend a URL selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite (a file, WAL journal, full fsync).
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

impl Backend {
    /// The backend a database URL names.
    pub fn from_url(url: &str) -> Result<Self, CloudError> {
        if url.starts_with("sqlite:") {
            Ok(Self::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Self::Postgres)
        } else {
            Err(CloudError::Config(format!(
                "database_url must start with sqlite:// or postgres:// (got '{}')",
                redact_url(url)
            )))
        }
    }
}

/// The migrations shipped in this binary: (version, name, SQLite SQL, PostgreSQL SQL).
const MIGRATIONS: &[(i64, &str, &str, &str)] = &[
    (
        1,
        "init",
        include_str!("../../migrations/sqlite/0001_init.sql"),
        include_str!("../../migrations/postgres/0001_init.sql"),
    ),
    (
        2,
        "bind uploads",
        include_str!("../../migrations/sqlite/0002_bind_uploads.sql"),
        include_str!("../../migrations/postgres/0002_bind_uploads.sql"),
    ),
];

/// The highest schema version this binary knows.
pub fn latest_version() -> i64 {
    MIGRATIONS.last().map_or(0, |m| m.0)
}

fn migrator(backend: Backend) -> Migrator {
    Migrator::with_migrations(
        MIGRATIONS
            .iter()
            .map(|(version, name, sqlite, postgres)| {
                let sql = match backend {
                    Backend::Sqlite => *sqlite,
                    Backend::Postgres => *postgres,
                };
                Migration::new(
                    *version,
                    Cow::Borrowed(*name),
                    MigrationType::Simple,
                    sql.into_sql_str(),
                    false,
                )
            })
            .collect(),
    )
}

/// The database: a connection pool and the backend it talks to.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
}

/// A write transaction (on SQLite it holds the write lock from the start). Dropped without
/// [`Tx::commit`], it rolls back.
#[derive(Debug)]
pub struct Tx(sqlx::Transaction<'static, sqlx::Any>);

impl Tx {
    /// Commits.
    pub async fn commit(self) -> Result<(), CloudError> {
        Ok(self.0.commit().await?)
    }

    fn conn(&mut self) -> &mut sqlx::AnyConnection {
        &mut self.0
    }
}

impl Store {
    /// Connects (creating an SQLite file if missing).
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self, CloudError> {
        sqlx::any::install_default_drivers();
        let backend = Backend::from_url(url)?;
        if backend == Backend::Sqlite
            && let Some(parent) = sqlite_file(url)
                .and_then(|p| std::path::Path::new(p).parent().map(|p| p.to_owned()))
            && !parent.as_os_str().is_empty()
        {
            std::fs::create_dir_all(&parent).map_err(|source| CloudError::Io {
                context: format!("creating database directory {}", parent.display()),
                source,
            })?;
        }
        let mut opts = AnyPoolOptions::new()
            .max_connections(max_connections.max(1))
            .acquire_timeout(Duration::from_secs(10));
        if backend == Backend::Sqlite {
            opts = opts.after_connect(|conn, _meta| {
                Box::pin(async move {
                    conn.execute(
                        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
                         PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON;",
                    )
                    .await?;
                    Ok(())
                })
            });
        }
        let pool = opts.connect(url).await?;
        Ok(Self { pool, backend })
    }

    /// The pool, for tests and tools that inspect or plant rows; the service itself goes
    /// through the typed methods.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// The backend.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Begins a transaction that will write. On SQLite it takes the write lock up front
    /// (`BEGIN IMMEDIATE`), so `busy_timeout` applies: a deferred transaction that reads first
    /// and then writes fails at once with SQLITE_BUSY when another connection wrote in between.
    pub async fn begin_write(&self) -> Result<Tx, CloudError> {
        let tx = match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        };
        Ok(Tx(tx))
    }

    /// Applies pending migrations in order. Returns the versions applied. Refuses a database
    /// that holds migrations this binary does not know, or whose applied migrations changed.
    pub async fn migrate(&self) -> Result<Vec<i64>, CloudError> {
        let migrator = migrator(self.backend);
        let before = self.applied().await?;
        if before.is_empty()
            && let Some(legacy) = self.legacy_version().await?
        {
            // Adopt a database migrated by the hand-written runner before sqlx's.
            tracing::info!(
                version = legacy,
                "adopting schema_migrations into _sqlx_migrations"
            );
            migrator
                .skip(&self.pool, Some(legacy))
                .await
                .map_err(|e| migrate_error(e, legacy))?;
        }
        let before = self.applied().await?;
        if let Some(found) = before.iter().copied().max()
            && found > latest_version()
        {
            return Err(CloudError::SchemaTooNew {
                found,
                known: latest_version(),
            });
        }
        migrator
            .run(&self.pool)
            .await
            .map_err(|e| migrate_error(e, latest_version()))?;
        let after = self.applied().await?;
        let applied: Vec<i64> = after.into_iter().filter(|v| !before.contains(v)).collect();
        for v in &applied {
            tracing::info!(version = v, "applied migration");
        }
        Ok(applied)
    }

    async fn applied(&self) -> Result<Vec<i64>, CloudError> {
        let exists = self.table_exists("_sqlx_migrations").await?;
        if !exists {
            return Ok(Vec::new());
        }
        let rows =
            sqlx::query("SELECT version FROM _sqlx_migrations WHERE success ORDER BY version")
                .fetch_all(&self.pool)
                .await?;
        rows.iter()
            .map(|r| r.try_get::<i64, _>(0).map_err(CloudError::from))
            .collect()
    }

    async fn legacy_version(&self) -> Result<Option<i64>, CloudError> {
        if !self.table_exists("schema_migrations").await? {
            return Ok(None);
        }
        let v: Option<i64> = sqlx::query_scalar("SELECT MAX(version) FROM schema_migrations")
            .fetch_one(&self.pool)
            .await?;
        Ok(v)
    }

    async fn table_exists(&self, name: &str) -> Result<bool, CloudError> {
        let sql = match self.backend {
            Backend::Sqlite => {
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = $1"
            }
            Backend::Postgres => {
                "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = $1"
            }
        };
        let n: i64 = sqlx::query_scalar(sql)
            .bind(name)
            .fetch_one(&self.pool)
            .await?;
        Ok(n > 0)
    }

    /// The schema version in the database (0: none).
    pub async fn schema_version(&self) -> Result<i64, CloudError> {
        Ok(self.applied().await?.into_iter().max().unwrap_or(0))
    }

    /// Readiness: the database answers and the schema is current.
    pub async fn ready(&self) -> Result<(), String> {
        match self.schema_version().await {
            Ok(v) if v == latest_version() => Ok(()),
            Ok(v) => Err(format!(
                "schema version {v}, expected {} (run `dashledger-cloud migrate`)",
                latest_version()
            )),
            Err(e) => Err(format!("database: {e}")),
        }
    }

    /// Closes the pool.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

fn migrate_error(e: sqlx::migrate::MigrateError, version: i64) -> CloudError {
    use sqlx::migrate::MigrateError;
    match e {
        MigrateError::VersionMissing(found) => CloudError::SchemaTooNew {
            found,
            known: latest_version(),
        },
        e => CloudError::Migration { version, source: e },
    }
}

/// Reads a typed row by column names (the hand-written `FromRow` of each row type).
pub(crate) trait FromAnyRow: Sized {
    fn from_row(r: &AnyRow) -> Result<Self, sqlx::Error>;
}

/// A stored enum (TEXT) as its `dashledger-api` type; an unknown value is a decode error.
pub(crate) fn decode_enum<T: std::str::FromStr>(r: &AnyRow, col: &str) -> Result<T, sqlx::Error>
where
    T::Err: std::error::Error + Send + Sync + 'static,
{
    let s: String = r.try_get(col)?;
    s.parse().map_err(|e| sqlx::Error::ColumnDecode {
        index: col.to_owned(),
        source: Box::new(e),
    })
}

/// A stored 32-byte hash.
pub(crate) fn decode_b256(r: &AnyRow, col: &str) -> Result<alloy::primitives::B256, sqlx::Error> {
    let b: Vec<u8> = r.try_get(col)?;
    if b.len() != 32 {
        return Err(sqlx::Error::ColumnDecode {
            index: col.to_owned(),
            source: format!("{} bytes, expected 32", b.len()).into(),
        });
    }
    Ok(alloy::primitives::B256::from_slice(&b))
}

/// A stored non-negative count.
pub(crate) fn decode_u64(r: &AnyRow, col: &str) -> Result<u64, sqlx::Error> {
    let v: i64 = r.try_get(col)?;
    u64::try_from(v).map_err(|_| sqlx::Error::ColumnDecode {
        index: col.to_owned(),
        source: format!("negative value {v}").into(),
    })
}

/// A count or size for a BIGINT column (sizes here are capped far below `i64::MAX`).
pub(crate) fn sql_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn sqlite_file(url: &str) -> Option<&str> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next()?;
    if path.is_empty() || path == ":memory:" {
        None
    } else {
        Some(path)
    }
}

/// Hides a password in a database URL (for error messages and logs).
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{}:***{}", &url[..s + 3], user, &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(Backend::from_url("sqlite://x.db").unwrap(), Backend::Sqlite);
        assert_eq!(
            Backend::from_url("postgres://u@h/d").unwrap(),
            Backend::Postgres
        );
        let e = Backend::from_url("mysql://u:secret@h/d")
            .unwrap_err()
            .to_string();
        assert!(e.contains("mysql") && !e.contains("secret"), "{e}");
        assert_eq!(
            sqlite_file("sqlite:///tmp/a.db?mode=rwc"),
            Some("/tmp/a.db")
        );
        assert_eq!(sqlite_file("sqlite::memory:"), None);
    }

    #[test]
    fn both_backends_ship_the_same_migrations() {
        let (sqlite, postgres) = (migrator(Backend::Sqlite), migrator(Backend::Postgres));
        let versions = |m: &Migrator| m.iter().map(|m| m.version).collect::<Vec<_>>();
        assert_eq!(versions(&sqlite), versions(&postgres));
        assert_eq!(
            versions(&sqlite),
            (1..=latest_version()).collect::<Vec<_>>()
        );
    }
}
