//! The integration's configuration as the host passes it to every call.

use crate::Error;

/// Key/value configuration of one integration (user settings over admin defaults).
///
/// ```
/// use tributary_sdk::Config;
/// let c = Config::from(vec![("feed_url".to_string(), "https://a.substack.com/feed".to_string())]);
/// assert_eq!(c.get("feed_url"), Some("https://a.substack.com/feed"));
/// assert!(c.require("missing").is_err());
/// ```
#[derive(Debug, Clone, Default)]
pub struct Config(Vec<(String, String)>);

impl Config {
    /// The value of `key`, if set and not empty.
    ///
    /// ```
    /// # use tributary_sdk::Config;
    /// assert_eq!(Config::default().get("x"), None);
    /// ```
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, v)| k == key && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }

    /// The value of `key`, or an `invalid-config` error naming it.
    ///
    /// ```
    /// # use tributary_sdk::Config;
    /// let err = Config::default().require("token").unwrap_err();
    /// assert!(err.to_string().contains("token"));
    /// ```
    pub fn require(&self, key: &str) -> Result<&str, Error> {
        self.get(key)
            .ok_or_else(|| Error::invalid_config(format!("missing config `{key}`")))
    }

    /// The value of `key` parsed as a number, or `default` when absent.
    ///
    /// ```
    /// # use tributary_sdk::Config;
    /// let c = Config::from(vec![("n".into(), "5".into())]);
    /// assert_eq!(c.number("n", 1).unwrap(), 5);
    /// assert_eq!(c.number("m", 1).unwrap(), 1);
    /// ```
    pub fn number(&self, key: &str, default: i64) -> Result<i64, Error> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v.trim().parse().map_err(|_| {
                Error::invalid_config(format!("config `{key}` must be a number, got {v:?}"))
            }),
        }
    }
}

impl From<Vec<(String, String)>> for Config {
    fn from(pairs: Vec<(String, String)>) -> Self {
        Config(pairs)
    }
}
