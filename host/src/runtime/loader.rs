//! Compiling plugin files: an on-disk cache of compiled artifacts keyed by content hash
//! and engine settings (a restart does not recompile), and the WIT version check.

use std::hash::{Hash, Hasher};
use std::path::Path;

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

use super::error::LoadError;
use crate::bindings::{WIT_PACKAGE, WIT_VERSION, WIT_VERSIONS};

/// Hex SHA-256 of a file's bytes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn engine_key(engine: &Engine) -> String {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut h);
    format!("{:016x}", h.finish())
}

/// Compile `bytes` (or load the cached artifact) and check its WIT version. Returns the
/// component, its SHA-256, whether it came from the cache (no compilation) and the WIT
/// version it was built against.
pub fn compile(
    engine: &Engine,
    cache_dir: &Path,
    file: &str,
    bytes: &[u8],
) -> Result<(Component, String, bool, &'static str), LoadError> {
    let sha = sha256_hex(bytes);
    let cached = cache_dir.join(format!("{sha}-{}.cwasm", engine_key(engine)));
    let invalid = |e: wasmtime::Error| LoadError::Invalid {
        file: file.to_string(),
        reason: format!("{e:#}"),
    };

    // SAFETY: the cache dir belongs to the host (created by it, under the data dir) and
    // its files are only ever written by `Component::serialize` below; a file that fails
    // wasmtime's header and compatibility checks is recompiled.
    let from_cache = cached
        .exists()
        .then(|| unsafe { Component::deserialize_file(engine, &cached) })
        .and_then(Result::ok);
    let hit = from_cache.is_some();
    let component = match from_cache {
        Some(c) => c,
        None => {
            let c = Component::new(engine, bytes).map_err(invalid)?;
            check_version(engine, &c, file)?;
            std::fs::create_dir_all(cache_dir)?;
            let tmp = cache_dir.join(format!(".{sha}.{}.tmp", uuid::Uuid::new_v4().simple()));
            std::fs::write(&tmp, c.serialize().map_err(invalid)?)?;
            std::fs::rename(&tmp, &cached)?;
            c
        }
    };
    let version = check_version(engine, &component, file)?;
    Ok((component, sha, hit, version))
}

/// The supported WIT version a component is built against: it exports that version's
/// `provider` and imports nothing of another version. Anything else is refused.
fn check_version(
    engine: &Engine,
    component: &Component,
    file: &str,
) -> Result<&'static str, LoadError> {
    let ty = component.component_type();
    let names: Vec<String> = ty
        .exports(engine)
        .chain(ty.imports(engine))
        .map(|(name, _)| name.to_string())
        .filter(|n| n.starts_with(&format!("{WIT_PACKAGE}/")))
        .collect();
    for version in WIT_VERSIONS {
        let expected = format!("{WIT_PACKAGE}/provider@{version}");
        if names.iter().any(|n| n == &expected)
            && names.iter().all(|n| n.ends_with(&format!("@{version}")))
        {
            return Ok(version);
        }
    }
    let export = names
        .iter()
        .find(|n| n.starts_with(&format!("{WIT_PACKAGE}/provider")))
        .or(names.first());
    match export {
        Some(other) => {
            let version = other
                .rsplit_once('@')
                .map(|(_, v)| v)
                .unwrap_or("an unversioned release");
            Err(LoadError::WitVersion {
                file: file.into(),
                found: format!("{WIT_PACKAGE}@{version}"),
                supported: WIT_VERSIONS
                    .iter()
                    .map(|v| format!("{WIT_PACKAGE}@{v}"))
                    .collect::<Vec<_>>()
                    .join(" and "),
            })
        }
        None => Err(LoadError::Invalid {
            file: file.into(),
            reason: format!(
                "it does not export `{WIT_PACKAGE}/provider@{WIT_VERSION}`; is it a Tributary provider?"
            ),
        }),
    }
}
