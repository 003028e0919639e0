//! Database access: one schema, two backends (SQLite file by default, PostgreSQL by URL),
//! reached through sqlx's `Any` driver. Queries use `$1`-style parameters, which both backends
//! understand; each backend has its own migration files (`migrations/{sqlite,postgres}`).

use std::time::Duration;

use sqlx::AnyPool;
use sqlx::Executor;
use sqlx::any::AnyPoolOptions;

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

/// A migration shipped in this binary.
#[derive(Debug)]
struct Migration {
    version: i64,
    name: &'static str,
    sqlite: &'static str,
    postgres: &'static str,
}

const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "0001_init",
        sqlite: include_str!("../migrations/sqlite/0001_init.sql"),
        postgres: include_str!("../migrations/postgres/0001_init.sql"),
    },
    Migration {
        version: 2,
        name: "0002_bind_uploads",
        sqlite: include_str!("../migrations/sqlite/0002_bind_uploads.sql"),
        postgres: include_str!("../migrations/postgres/0002_bind_uploads.sql"),
    },
];

/// The highest schema version this binary knows.
pub fn latest_version() -> i64 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

/// A connection pool plus the backend it talks to.
#[derive(Debug, Clone)]
pub struct Db {
    pool: AnyPool,
    backend: Backend,
}

impl Db {
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

    /// The pool, for queries.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Begins a transaction that will write. On SQLite it takes the write lock up front
    /// (`BEGIN IMMEDIATE`), so `busy_timeout` applies: a deferred transaction that reads first
    /// and then writes fails at once with SQLITE_BUSY when another connection wrote in between.
    pub async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>, sqlx::Error> {
        match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
            _ => self.pool.begin().await,
        }
    }

    /// The backend.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Applies pending migrations in order, each in its own transaction. Returns the versions
    /// applied. Refuses a database whose schema is newer than this binary.
    pub async fn migrate(&self) -> Result<Vec<i64>, CloudError> {
        self.pool
            .execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (\
                 version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
            )
            .await?;
        let current = self.schema_version().await?;
        if current > latest_version() {
            return Err(CloudError::SchemaTooNew {
                found: current,
                known: latest_version(),
            });
        }
        let mut applied = Vec::new();
        for m in MIGRATIONS.iter().filter(|m| m.version > current) {
            let sql = match self.backend {
                Backend::Sqlite => m.sqlite,
                Backend::Postgres => m.postgres,
            };
            let wrap = |source| CloudError::Migration {
                version: m.version,
                name: m.name,
                source,
            };
            let mut tx = self.pool.begin().await.map_err(wrap)?;
            for stmt in split_statements(sql) {
                sqlx::raw_sql(sqlx::AssertSqlSafe(stmt))
                    .execute(&mut *tx)
                    .await
                    .map_err(wrap)?;
            }
            sqlx::query(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
            )
            .bind(m.version)
            .bind(m.name)
            .bind(crate::now_unix())
            .execute(&mut *tx)
            .await
            .map_err(wrap)?;
            tx.commit().await.map_err(wrap)?;
            tracing::info!(version = m.version, name = m.name, "applied migration");
            applied.push(m.version);
        }
        Ok(applied)
    }

    /// The schema version in the database (0: none).
    pub async fn schema_version(&self) -> Result<i64, CloudError> {
        let v: Option<i64> = sqlx::query_scalar("SELECT MAX(version) FROM schema_migrations")
            .fetch_one(&self.pool)
            .await?;
        Ok(v.unwrap_or(0))
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

/// Splits a migration file into statements at `;` line ends, dropping `--` comment lines.
fn split_statements(sql: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for line in sql.lines() {
        let t = line.trim();
        if t.starts_with("--") || t.is_empty() {
            continue;
        }
        cur.push_str(line);
        cur.push('\n');
        if t.ends_with(';') {
            out.push(std::mem::take(&mut cur));
        }
    }
    if !cur.trim().is_empty() {
        out.push(cur);
    }
    out
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
    fn both_backends_have_the_same_statement_count() {
        for m in MIGRATIONS {
            assert_eq!(
                split_statements(m.sqlite).len(),
                split_statements(m.postgres).len(),
                "{}",
                m.name
            );
        }
    }
}
