//! Layered configuration shared by the binaries (feature `config`): built-in defaults → a TOML
//! file → environment variables → command-line overrides, each layer overriding the previous one.
//!
//! * The defaults are `T::default()`, rendered to a TOML tree.
//! * The file is merged into that tree table by table (a key the file names replaces the default).
//! * An environment variable `PREFIX` + `KEY__SUBKEY` (upper case, `__` between table levels)
//!   sets `key.subkey`; variables without the prefix, and those in the caller's skip list
//!   (secrets, the log filter, the config path), are ignored.
//! * An override is a dotted key and a raw value (`upload.max_clip_bytes` / `1000`).
//!
//! Raw values (environment and overrides) are typed like the default of their key: integers,
//! floats, booleans, strings, and comma-separated lists for arrays. A key without a default value
//! (an `Option` that defaults to `None`) takes an integer, float or boolean when the text reads as
//! one and the field accepts it, else a string. Every value is checked against `T` as it is set,
//! so an unknown key or a value of the wrong type is reported with the variable or override that
//! set it; the file's contents are checked as a whole at the end.
//!
//! ```
//! use std::collections::BTreeMap;
//! use dashledger_protocol::layers;
//!
//! #[derive(Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
//! #[serde(default, deny_unknown_fields)]
//! struct Config {
//!     port: u16,
//!     name: String,
//! }
//!
//! let env = BTreeMap::from([("APP_PORT".to_string(), "8080".to_string())]);
//! let flags = [layers::parse_assignment("name=demo").unwrap()];
//! let cfg: Config = layers::load(None, &env, "APP_", &[], &flags).unwrap();
//! assert_eq!(cfg, Config { port: 8080, name: "demo".into() });
//! ```

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::de::DeserializeOwned;

/// What went wrong while layering a configuration. Each variant names the file, variable or
/// override at fault, and its message names the key.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LayerError {
    /// The defaults of the configuration type do not render as a TOML table (a bug in the type).
    #[error("cannot serialise defaults: {message}")]
    Defaults {
        /// What the serialiser said.
        message: String,
    },
    /// The configuration file could not be read.
    #[error("cannot read config file {}: {error}", path.display())]
    ReadFile {
        /// The file.
        path: PathBuf,
        /// Why it could not be read.
        error: std::io::Error,
    },
    /// The configuration file is not valid TOML.
    #[error("config file {} is not valid TOML: {error}", path.display())]
    ParseFile {
        /// The file.
        path: PathBuf,
        /// Where and why parsing failed.
        error: toml::de::Error,
    },
    /// The configuration file is TOML but names an unknown key or has a value of the wrong type.
    #[error("config file {}: {message}", path.display())]
    FileValue {
        /// The file.
        path: PathBuf,
        /// Which key is wrong and why.
        message: String,
    },
    /// An environment variable names an unknown key or has a value of the wrong type.
    #[error("environment variable {name} (key `{key}`): {message}")]
    Env {
        /// The variable.
        name: String,
        /// The dotted key it names.
        key: String,
        /// What is wrong.
        message: String,
    },
    /// A command-line override names an unknown key or has a value of the wrong type.
    #[error("override `{key}`: {message}")]
    Override {
        /// The dotted key as given.
        key: String,
        /// What is wrong.
        message: String,
    },
    /// An override is not of the form `key=value`.
    #[error("override '{item}' is not of the form key=value")]
    NotAssignment {
        /// The override as given.
        item: String,
    },
    /// The layers together do not make a valid configuration.
    #[error("invalid configuration: {message}")]
    Invalid {
        /// What is wrong.
        message: String,
    },
    /// The configuration cannot be rendered as TOML.
    #[error("cannot render config: {message}")]
    Render {
        /// What the serialiser said.
        message: String,
    },
}

/// Loads a `T`: its defaults, then `file` (if given; a named file that does not exist is an
/// error), then the variables of `env` that start with `prefix` (except the full names in
/// `skip_env`), then `overrides` (dotted key and raw value, in order; see [`parse_assignment`]).
///
/// `T` should be `#[serde(default, deny_unknown_fields)]` on every table so that unknown keys
/// are rejected and partial tables keep their defaults. Validation beyond types is the caller's.
pub fn load<T, I, K, V>(
    file: Option<&Path>,
    env: I,
    prefix: &str,
    skip_env: &[&str],
    overrides: &[(String, String)],
) -> Result<T, LayerError>
where
    T: DeserializeOwned + Serialize + Default,
    I: IntoIterator<Item = (K, V)>,
    K: AsRef<str>,
    V: AsRef<str>,
{
    let defaults = defaults_table::<T>()?;
    let mut value = defaults.clone();

    let mut file_value = None;
    if let Some(path) = file {
        let parsed = read_file(path)?;
        merge(&mut value, parsed.clone());
        file_value = Some((path, parsed));
    }

    for (name, raw) in &prefixed_vars(env, prefix, skip_env) {
        set_from_env::<T>(&defaults, &mut value, prefix, name, raw)?;
    }

    for (key, raw) in overrides {
        set_from_override::<T>(&defaults, &mut value, key, raw)?;
    }

    value
        .try_into::<T>()
        .map_err(|e| invalid_config::<T>(&e, &defaults, file_value))
}

/// `T::default()` rendered as a TOML table.
fn defaults_table<T: Serialize + Default>() -> Result<toml::Value, LayerError> {
    let defaults = toml::Value::try_from(T::default()).map_err(|e| LayerError::Defaults {
        message: e.to_string(),
    })?;
    if !defaults.is_table() {
        return Err(LayerError::Defaults {
            message: "the defaults are not a TOML table".into(),
        });
    }
    Ok(defaults)
}

/// Reads and parses the configuration file (not yet checked against the configuration type).
fn read_file(path: &Path) -> Result<toml::Value, LayerError> {
    let text = std::fs::read_to_string(path).map_err(|error| LayerError::ReadFile {
        path: path.to_path_buf(),
        error,
    })?;
    toml::from_str(&text).map_err(|error| LayerError::ParseFile {
        path: path.to_path_buf(),
        error,
    })
}

/// The variables of `env` named `prefix` + a non-empty key, except the full names in
/// `skip_env`, as (name, value).
fn prefixed_vars<I, K, V>(env: I, prefix: &str, skip_env: &[&str]) -> Vec<(String, String)>
where
    I: IntoIterator<Item = (K, V)>,
    K: AsRef<str>,
    V: AsRef<str>,
{
    // Sorted by name, so that the outcome does not depend on the order of the process environment.
    let mut vars: Vec<(String, String)> = env
        .into_iter()
        .filter_map(|(name, raw)| {
            let name = name.as_ref();
            let key = name.strip_prefix(prefix)?;
            (!key.is_empty() && !skip_env.contains(&name))
                .then(|| (name.to_owned(), raw.as_ref().to_owned()))
        })
        .collect();
    vars.sort();
    vars
}

/// Sets the key that the environment variable `name` (`prefix` + `KEY__SUBKEY`) names to its
/// value `raw`.
fn set_from_env<T: DeserializeOwned>(
    defaults: &toml::Value,
    value: &mut toml::Value,
    prefix: &str,
    name: &str,
    raw: &str,
) -> Result<(), LayerError> {
    let path: Vec<String> = name[prefix.len()..]
        .split("__")
        .map(str::to_ascii_lowercase)
        .collect();
    set::<T>(defaults, value, &path, raw).map_err(|message| LayerError::Env {
        name: name.to_owned(),
        key: path.join("."),
        message,
    })
}

/// Sets the dotted `key` of a command-line override to its value `raw`.
fn set_from_override<T: DeserializeOwned>(
    defaults: &toml::Value,
    value: &mut toml::Value,
    key: &str,
    raw: &str,
) -> Result<(), LayerError> {
    let path: Vec<String> = key.split('.').map(str::to_owned).collect();
    set::<T>(defaults, value, &path, raw).map_err(|message| LayerError::Override {
        key: key.to_owned(),
        message,
    })
}

/// The error for layers that together are not a valid `T` (`e`, what deserialising said).
/// Environment and overrides were checked as they were set: blame the file if it is wrong on
/// its own, else the combination.
fn invalid_config<T: DeserializeOwned>(
    e: &toml::de::Error,
    defaults: &toml::Value,
    file_value: Option<(&Path, toml::Value)>,
) -> LayerError {
    let message = error_message(e);
    if let Some((path, parsed)) = file_value {
        let mut alone = defaults.clone();
        merge(&mut alone, parsed.clone());
        if let Err(e) = alone.try_into::<T>() {
            let message =
                first_bad_key::<T>(defaults, &parsed).unwrap_or_else(|| error_message(&e));
            return LayerError::FileValue {
                path: path.to_path_buf(),
                message,
            };
        }
    }
    LayerError::Invalid { message }
}

/// The first key of `file` that is wrong on its own (checked against the defaults), with why.
fn first_bad_key<T: DeserializeOwned>(
    defaults: &toml::Value,
    file: &toml::Value,
) -> Option<String> {
    fn leaves(
        prefix: &mut Vec<String>,
        v: &toml::Value,
        out: &mut Vec<(Vec<String>, toml::Value)>,
    ) {
        match v {
            toml::Value::Table(t) if !t.is_empty() => {
                for (k, v) in t {
                    prefix.push(k.clone());
                    leaves(prefix, v, out);
                    prefix.pop();
                }
            }
            _ => out.push((prefix.clone(), v.clone())),
        }
    }
    let mut all = Vec::new();
    leaves(&mut Vec::new(), file, &mut all);
    all.into_iter().find_map(|(path, leaf)| {
        let mut trial = defaults.clone();
        insert(&mut trial, &path, leaf).ok()?;
        let e = trial.try_into::<T>().err()?;
        Some(format!("key `{}`: {}", path.join("."), error_message(&e)))
    })
}

/// Splits a command-line override `key=value` into its dotted key and value (both trimmed).
pub fn parse_assignment(item: &str) -> Result<(String, String), LayerError> {
    let (key, raw) = item
        .split_once('=')
        .ok_or_else(|| LayerError::NotAssignment { item: item.into() })?;
    Ok((key.trim().to_owned(), raw.trim().to_owned()))
}

/// Renders a configuration as pretty TOML (what `print-config` prints).
pub fn render<T: Serialize>(config: &T) -> Result<String, LayerError> {
    toml::to_string_pretty(config).map_err(|e| LayerError::Render {
        message: e.to_string(),
    })
}

fn error_message(e: &toml::de::Error) -> String {
    e.message().trim_end().to_owned()
}

/// Merges `over` into `base`: tables key by key (recursively), anything else replaced.
fn merge(base: &mut toml::Value, over: toml::Value) {
    match (base, over) {
        (toml::Value::Table(b), toml::Value::Table(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(existing) => merge(existing, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (b, o) => *b = o,
    }
}

/// Sets `path` in `value` from a raw string, typed like its default in `defaults` and checked
/// against `T` (on the defaults, so that only this key is judged). The error names the key.
fn set<T: DeserializeOwned>(
    defaults: &toml::Value,
    value: &mut toml::Value,
    path: &[String],
    raw: &str,
) -> Result<(), String> {
    let dotted = path.join(".");
    if path.iter().any(String::is_empty) {
        return Err(format!("`{dotted}` is not a configuration key"));
    }
    let candidates = match default_at(defaults, path)? {
        Some(toml::Value::Table(_)) => {
            return Err(format!("`{dotted}` is a table; name one of its keys"));
        }
        Some(default) => vec![typed_like(default, raw)?],
        None => inferred(raw),
    };
    let mut first_error = None;
    for candidate in candidates {
        let mut trial = defaults.clone();
        insert(&mut trial, path, candidate.clone())?;
        match trial.try_into::<T>() {
            Ok(_) => return insert(value, path, candidate),
            Err(e) => {
                first_error.get_or_insert_with(|| error_message(&e));
            }
        }
    }
    Err(first_error.unwrap_or_else(|| "no value".into()))
}

/// The default at `path`: `None` when a table on the way or the key itself has no default.
fn default_at<'a>(
    defaults: &'a toml::Value,
    path: &[String],
) -> Result<Option<&'a toml::Value>, String> {
    let mut node = defaults;
    for (i, key) in path.iter().enumerate() {
        let Some(table) = node.as_table() else {
            return Err(format!("`{}` is not a table", path[..i].join(".")));
        };
        match table.get(key) {
            Some(next) => node = next,
            None => return Ok(None),
        }
    }
    Ok(Some(node))
}

/// Writes `leaf` at `path`, creating missing tables.
fn insert(root: &mut toml::Value, path: &[String], leaf: toml::Value) -> Result<(), String> {
    let (last, parents) = path.split_last().ok_or("empty configuration key")?;
    let mut node = root;
    for (i, key) in parents.iter().enumerate() {
        let table = node
            .as_table_mut()
            .ok_or_else(|| format!("`{}` is not a table", path[..i].join(".")))?;
        node = table
            .entry(key.clone())
            .or_insert_with(|| toml::Value::Table(Default::default()));
    }
    let table = node
        .as_table_mut()
        .ok_or_else(|| format!("`{}` is not a table", parents.join(".")))?;
    table.insert(last.clone(), leaf);
    Ok(())
}

/// Parses `raw` as the same TOML type as `default`.
fn typed_like(default: &toml::Value, raw: &str) -> Result<toml::Value, String> {
    Ok(match default {
        toml::Value::Integer(_) => toml::Value::Integer(
            raw.trim()
                .parse()
                .map_err(|_| format!("expected an integer, got `{raw}`"))?,
        ),
        toml::Value::Float(_) => toml::Value::Float(
            raw.trim()
                .parse()
                .map_err(|_| format!("expected a number, got `{raw}`"))?,
        ),
        toml::Value::Boolean(_) => toml::Value::Boolean(
            raw.trim()
                .parse()
                .map_err(|_| format!("expected true or false, got `{raw}`"))?,
        ),
        toml::Value::Array(items) => {
            let element = items.first();
            toml::Value::Array(
                raw.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(|s| match element {
                        Some(
                            e @ (toml::Value::Integer(_)
                            | toml::Value::Float(_)
                            | toml::Value::Boolean(_)),
                        ) => typed_like(e, s),
                        _ => Ok(toml::Value::String(s.to_owned())),
                    })
                    .collect::<Result<_, _>>()?,
            )
        }
        _ => toml::Value::String(raw.to_owned()),
    })
}

/// Readings of `raw` for a key without a default, most specific first, a string last.
fn inferred(raw: &str) -> Vec<toml::Value> {
    let t = raw.trim();
    let mut out = Vec::with_capacity(2);
    if let Ok(i) = t.parse::<i64>() {
        out.push(toml::Value::Integer(i));
    } else if let Ok(b) = t.parse::<bool>() {
        out.push(toml::Value::Boolean(b));
    } else if let Ok(f) = t.parse::<f64>() {
        out.push(toml::Value::Float(f));
    }
    out.push(toml::Value::String(raw.to_owned()));
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[serde(default, deny_unknown_fields)]
    struct Conf {
        name: String,
        count: u32,
        ratio: f64,
        on: bool,
        tags: Vec<String>,
        ports: Vec<u16>,
        optional_path: Option<PathBuf>,
        optional_count: Option<u64>,
        mode: Mode,
        inner: Inner,
    }

    #[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
    #[serde(rename_all = "snake_case")]
    enum Mode {
        Fast,
        Slow,
    }

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[serde(default, deny_unknown_fields)]
    struct Inner {
        url: String,
        limit: i64,
    }

    impl Default for Conf {
        fn default() -> Self {
            Self {
                name: "default".into(),
                count: 5,
                ratio: -1.0,
                on: false,
                tags: vec!["a".into(), "b".into()],
                ports: vec![80],
                optional_path: None,
                optional_count: None,
                mode: Mode::Fast,
                inner: Inner::default(),
            }
        }
    }

    impl Default for Inner {
        fn default() -> Self {
            Self {
                url: "http://default".into(),
                limit: 10,
            }
        }
    }

    const PREFIX: &str = "APP_";
    const SKIP: &[&str] = &["APP_PASSWORD", "APP_LOG", "APP_CONFIG"];

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn sets(items: &[&str]) -> Vec<(String, String)> {
        items.iter().map(|i| parse_assignment(i).unwrap()).collect()
    }

    fn load_env(pairs: &[(&str, &str)]) -> Result<Conf, LayerError> {
        load(None, &env(pairs), PREFIX, SKIP, &[])
    }

    fn load_sets(items: &[&str]) -> Result<Conf, LayerError> {
        load(None, env(&[]), PREFIX, SKIP, &sets(items))
    }

    fn write(dir: &tempfile::TempDir, text: &str) -> PathBuf {
        let file = dir.path().join("conf.toml");
        std::fs::write(&file, text).unwrap();
        file
    }

    #[test]
    fn layers_apply_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let file = write(
            &dir,
            "name = \"file\"\ncount = 9\non = true\n[inner]\nurl = \"http://file\"\nlimit = 3\n",
        );
        let e = env(&[
            ("APP_COUNT", "3"),
            ("APP_INNER__URL", "http://env"),
            ("APP_RATIO", "0.25"),
            ("OTHER", "x"),
        ]);
        let c: Conf = load(
            Some(&file),
            &e,
            PREFIX,
            SKIP,
            &sets(&["inner.url=http://flag"]),
        )
        .unwrap();
        assert_eq!(c.name, "file");
        assert_eq!(c.count, 3);
        assert!(c.on);
        assert_eq!(c.ratio, 0.25);
        assert_eq!(c.inner.url, "http://flag");
        assert_eq!(c.inner.limit, 3);
        assert_eq!(c.tags, Conf::default().tags);
        assert_eq!(c.mode, Mode::Fast);
    }

    #[test]
    fn overrides_apply_in_order_given() {
        let c = load_sets(&["count=1", "count = 2"]).unwrap();
        assert_eq!(c.count, 2);
    }

    #[test]
    fn unknown_keys_are_named_with_their_source() {
        let dir = tempfile::tempdir().unwrap();
        let file = write(&dir, "nmae = \"x\"\n");
        let err = load::<Conf, _, _, _>(Some(&file), env(&[]), PREFIX, SKIP, &[]).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, LayerError::FileValue { .. }), "{msg}");
        assert!(msg.contains("nmae") && msg.contains("conf.toml"), "{msg}");

        let err = load_env(&[("APP_NOPE", "1")]).unwrap_err();
        assert!(err.to_string().contains("APP_NOPE"), "{err}");
        assert!(err.to_string().contains("nope"), "{err}");

        let err = load_env(&[("APP_INNER__LIMT", "1")]).unwrap_err();
        assert!(err.to_string().contains("`inner.limt`"), "{err}");

        let err = load_env(&[("APP_NO__SUCH", "1")]).unwrap_err();
        assert!(err.to_string().contains("`no`"), "{err}");

        let err = load_sets(&["inner.max_clipp=3"]).unwrap_err();
        assert!(matches!(err, LayerError::Override { .. }), "{err}");
        assert!(err.to_string().contains("max_clipp"), "{err}");
    }

    #[test]
    fn bad_values_are_named() {
        let env_cases = [
            ("APP_COUNT", "soon", "expected an integer, got `soon`"),
            ("APP_ON", "yes", "expected true or false"),
            ("APP_RATIO", "half", "expected a number"),
            // Parses as an integer but does not fit the field.
            ("APP_COUNT", "-1", "(key `count`): invalid value"),
            ("APP_PORTS", "1,http", "expected an integer, got `http`"),
        ];
        for (var, value, needle) in env_cases {
            let err = load_env(&[(var, value)]).unwrap_err().to_string();
            assert!(
                err.starts_with(&format!("environment variable {var} ")),
                "{err}"
            );
            assert!(err.contains(needle), "{err}");
        }
        let set_cases = [
            ("mode=medium", "unknown variant `medium`"),
            ("inner=3", "`inner` is a table; name one of its keys"),
            ("name.x=3", "`name` is not a table"),
            (".x=3", "`.x` is not a configuration key"),
        ];
        for (set, needle) in set_cases {
            let err = load_sets(&[set]).unwrap_err().to_string();
            assert!(err.starts_with("override `"), "{err}");
            assert!(err.contains(needle), "{err}");
        }
        let err = parse_assignment("count").unwrap_err();
        assert_eq!(
            err.to_string(),
            "override 'count' is not of the form key=value"
        );
    }

    #[test]
    fn file_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.toml");
        let err = load::<Conf, _, _, _>(Some(&missing), env(&[]), PREFIX, SKIP, &[]).unwrap_err();
        assert!(
            err.to_string().starts_with("cannot read config file"),
            "{err}"
        );
        assert!(err.to_string().contains("missing.toml"), "{err}");

        let file = write(&dir, "count = \n");
        let err = load::<Conf, _, _, _>(Some(&file), env(&[]), PREFIX, SKIP, &[]).unwrap_err();
        assert!(err.to_string().contains("is not valid TOML"), "{err}");

        let file = write(&dir, "count = 1\n[inner]\nurl = \"u\"\nlimit = \"many\"\n");
        let err = load::<Conf, _, _, _>(Some(&file), env(&[]), PREFIX, SKIP, &[]).unwrap_err();
        assert!(matches!(err, LayerError::FileValue { .. }), "{err}");
        assert!(err.to_string().contains("`inner.limit`"), "{err}");
    }

    #[test]
    fn values_are_typed_like_their_default() {
        let c = load_env(&[
            ("APP_NAME", "12"),
            ("APP_INNER__URL", "true"),
            ("APP_COUNT", " 7 "),
            ("APP_RATIO", "2"),
            ("APP_TAGS", "x, y,,z"),
            ("APP_PORTS", "1,2"),
            ("APP_MODE", "slow"),
        ])
        .unwrap();
        assert_eq!(c.name, "12");
        assert_eq!(c.inner.url, "true");
        assert_eq!(c.count, 7);
        assert_eq!(c.ratio, 2.0);
        assert_eq!(c.tags, ["x", "y", "z"]);
        assert_eq!(c.ports, [1, 2]);
        assert_eq!(c.mode, Mode::Slow);
    }

    #[test]
    fn keys_without_a_default_are_inferred() {
        let c = load_sets(&["optional_path=12", "optional_count=12"]).unwrap();
        assert_eq!(c.optional_path, Some(PathBuf::from("12")));
        assert_eq!(c.optional_count, Some(12));
        let c = load_env(&[("APP_OPTIONAL_PATH", "/x/y")]).unwrap();
        assert_eq!(c.optional_path, Some(PathBuf::from("/x/y")));
        let err = load_env(&[("APP_OPTIONAL_COUNT", "many")]).unwrap_err();
        assert!(err.to_string().contains("optional_count"), "{err}");
    }

    #[test]
    fn other_variables_are_ignored() {
        let c = load_env(&[
            ("APP_PASSWORD", "hunter2"),
            ("APP_LOG", "debug"),
            ("APP_CONFIG", "/etc/x.toml"),
            ("APP_", "x"),
            ("app_count", "1"),
            ("OTHER_COUNT", "1"),
        ])
        .unwrap();
        assert_eq!(c, Conf::default());
        assert!(!render(&c).unwrap().contains("hunter2"));
    }

    #[test]
    fn env_is_applied_in_name_order() {
        // `APP_count` and `APP_COUNT` name the same key: the result must not depend on the
        // order the process environment lists them in.
        let a = vec![("APP_count", "1"), ("APP_COUNT", "2")];
        let b: Vec<_> = a.iter().rev().copied().collect();
        let ca: Conf = load(None, a, PREFIX, SKIP, &[]).unwrap();
        let cb: Conf = load(None, b, PREFIX, SKIP, &[]).unwrap();
        assert_eq!(ca, cb);
    }

    #[test]
    fn file_values_are_judged_after_all_layers() {
        // A file with a wrong-typed key fails even when another key is overridden.
        let dir = tempfile::tempdir().unwrap();
        let file = write(&dir, "[inner]\nlimit = \"x\"\n");
        let err = load::<Conf, _, _, _>(
            Some(&file),
            env(&[("APP_INNER__URL", "http://e")]),
            PREFIX,
            SKIP,
            &[],
        )
        .unwrap_err();
        assert!(matches!(err, LayerError::FileValue { .. }), "{err}");
        // ... and passes when a later layer sets that key.
        let c: Conf = load(
            Some(&file),
            env(&[("APP_INNER__LIMIT", "4")]),
            PREFIX,
            SKIP,
            &[],
        )
        .unwrap();
        assert_eq!(c.inner.limit, 4);
    }

    fn conf() -> impl Strategy<Value = Conf> {
        (
            (
                any::<String>(),
                any::<u32>(),
                -1e12f64..1e12,
                any::<bool>(),
                proptest::collection::vec(any::<String>(), 0..4),
                proptest::collection::vec(any::<u16>(), 0..4),
            ),
            (
                proptest::option::of("[a-z/._-]{0,12}"),
                proptest::option::of(0..i64::MAX as u64),
                prop_oneof![Just(Mode::Fast), Just(Mode::Slow)],
                any::<String>(),
                any::<i64>(),
            ),
        )
            .prop_map(
                |(
                    (name, count, ratio, on, tags, ports),
                    (path, optional_count, mode, url, limit),
                )| Conf {
                    name,
                    count,
                    ratio,
                    on,
                    tags,
                    ports,
                    optional_path: path.map(PathBuf::from),
                    optional_count,
                    mode,
                    inner: Inner { url, limit },
                },
            )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn rendered_config_round_trips(c in conf()) {
            let dir = tempfile::tempdir().unwrap();
            let file = write(&dir, &render(&c).unwrap());
            let back: Conf = load(Some(&file), env(&[]), PREFIX, SKIP, &[]).unwrap();
            prop_assert_eq!(back, c);
        }

        #[test]
        fn scalar_env_values_round_trip(
            name in "[^\u{0}]{0,20}",
            count in any::<u32>(),
            limit in any::<i64>(),
            on in any::<bool>(),
        ) {
            let c = load_env(&[
                ("APP_NAME", &name),
                ("APP_COUNT", &count.to_string()),
                ("APP_INNER__LIMIT", &limit.to_string()),
                ("APP_ON", &on.to_string()),
            ])
            .unwrap();
            prop_assert_eq!(c.name, name);
            prop_assert_eq!(c.count, count);
            prop_assert_eq!(c.inner.limit, limit);
            prop_assert_eq!(c.on, on);
        }
    }
}
