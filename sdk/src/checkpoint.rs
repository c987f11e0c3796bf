//! Per-stream checkpoints of a walk (a chat channel's newest message, a feed's last
//! item), kept in kv under the walk's own key, `ckpt/<walk>`. The walk's sync token is
//! that key's name: the host hands it back only after the walk completed, so a walk that
//! fails never moves the checkpoints the next incremental walk starts from, and the token
//! stays short however many streams there are (cursors and tokens are capped at 16 KiB).
//!
//! ```
//! use tributary_sdk::checkpoint::{self, Marks};
//! tributary_sdk::native::reset();
//! let walk = checkpoint::start(None)?;              // a full walk
//! let mut marks = Marks::default();
//! marks.set(&walk, "C1", "1700000000.000100")?;    // channel C1 done
//! // ... the walk ends with `page.sync_token = Some(walk.clone())`.
//! let previous = checkpoint::previous(Some(&walk))?; // the next incremental walk
//! assert_eq!(previous["C1"], "1700000000.000100");
//! let next = checkpoint::start(Some(&walk))?;       // it starts its own map
//! assert_ne!(next, walk);
//! assert!(checkpoint::previous(Some("gone")).is_err());
//! # Ok::<(), tributary_sdk::Error>(())
//! ```

use std::collections::BTreeMap;

use crate::{Error, kv};

/// The kv prefix of checkpoint maps.
pub const PREFIX: &str = "ckpt/";

fn key(walk: &str) -> String {
    format!("{PREFIX}{walk}")
}

/// Begin a walk: a new walk id (its sync token at the end), and every checkpoint map
/// but `from`'s (the token the walk starts from) removed: older walks and walks that
/// never finished.
///
/// ```
/// tributary_sdk::native::reset();
/// let a = tributary_sdk::checkpoint::start(None)?;
/// assert!(!a.is_empty());
/// # Ok::<(), tributary_sdk::Error>(())
/// ```
pub fn start(from: Option<&str>) -> Result<String, Error> {
    let keep = from.map(key);
    for k in kv::list_keys(PREFIX)? {
        if Some(&k) != keep.as_ref() {
            kv::delete(&k)?;
        }
    }
    let mut walk = crate::time::now_millis();
    // Two walks in one millisecond must not share a map.
    while from.is_some_and(|f| f == walk.to_string()) {
        walk += 1;
    }
    Ok(walk.to_string())
}

/// The checkpoints of the completed walk whose sync token is `token`; not-found (so the
/// host runs a full walk) when there is no token or its map is gone.
///
/// ```
/// tributary_sdk::native::reset();
/// assert!(matches!(tributary_sdk::checkpoint::previous(None), Err(tributary_sdk::Error::NotFound(_))));
/// ```
pub fn previous(token: Option<&str>) -> Result<BTreeMap<String, String>, Error> {
    let token = token.ok_or_else(|| Error::not_found("no sync token: a full walk is needed"))?;
    kv::get_json(&key(token))?.ok_or_else(|| {
        Error::not_found("the checkpoints of the last walk are gone: a full walk is needed")
    })
}

/// The checkpoints a walk has set so far (reloaded from kv when a walk resumes in a new
/// job).
///
/// ```
/// use tributary_sdk::checkpoint::Marks;
/// tributary_sdk::native::reset();
/// let mut m = Marks::default();
/// m.set("w1", "a", "1")?;
/// m.set("w1", "b", "2")?;
/// assert_eq!(Marks::default().get("w1", "a")?.as_deref(), Some("1"));
/// # Ok::<(), tributary_sdk::Error>(())
/// ```
#[derive(Debug, Default)]
pub struct Marks {
    walk: Option<String>,
    map: BTreeMap<String, String>,
}

impl Marks {
    fn load(&mut self, walk: &str) -> Result<(), Error> {
        if self.walk.as_deref() != Some(walk) {
            self.map = kv::get_json(&key(walk))?.unwrap_or_default();
            self.walk = Some(walk.to_string());
        }
        Ok(())
    }

    /// Record `stream`'s checkpoint for `walk` (written through to kv).
    ///
    /// ```
    /// # use tributary_sdk::checkpoint::Marks;
    /// tributary_sdk::native::reset();
    /// Marks::default().set("w", "s", "9")?;
    /// # Ok::<(), tributary_sdk::Error>(())
    /// ```
    pub fn set(&mut self, walk: &str, stream: &str, value: &str) -> Result<(), Error> {
        self.load(walk)?;
        self.map.insert(stream.to_string(), value.to_string());
        kv::set_json(&key(walk), &self.map)
    }

    /// `stream`'s checkpoint in `walk`, if set.
    ///
    /// ```
    /// # use tributary_sdk::checkpoint::Marks;
    /// tributary_sdk::native::reset();
    /// assert_eq!(Marks::default().get("w", "s")?, None);
    /// # Ok::<(), tributary_sdk::Error>(())
    /// ```
    pub fn get(&mut self, walk: &str, stream: &str) -> Result<Option<String>, Error> {
        self.load(walk)?;
        Ok(self.map.get(stream).cloned())
    }
}
