//! A real headless Chromium driven through WebDriver (Debian's `chromium` and
//! `chromium-driver`, fantoccini): one chromedriver per test on a free port, killed with
//! it; screenshots under `target/screenshots/` for a person to look at. Without Chromium
//! the browser tests skip loudly, unless `TRIBUTARY_REQUIRE_BROWSER` is set (`.ci/run`),
//! which makes a missing browser a failure.

#![allow(dead_code)]

use std::path::PathBuf;
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// How long a page may take to show what a step waits for.
pub const WAIT: Duration = Duration::from_secs(60);

/// A browser session and the driver process behind it.
pub struct Browser {
    pub client: Client,
    _driver: tokio::process::Child,
}

/// Start Chromium, or `None` (after saying so) when it is not installed here.
pub async fn start() -> Option<Browser> {
    let chromium = std::env::var("TRIBUTARY_CHROMIUM").unwrap_or_else(|_| CHROMIUM.into());
    let driver = std::env::var("TRIBUTARY_CHROMEDRIVER").unwrap_or_else(|_| CHROMEDRIVER.into());
    if !std::path::Path::new(&chromium).exists() || !std::path::Path::new(&driver).exists() {
        let why = format!(
            "{chromium} or {driver} is missing: `apt-get install chromium chromium-driver`"
        );
        if std::env::var_os("TRIBUTARY_REQUIRE_BROWSER").is_some() {
            panic!("browser tests are required here, but {why}");
        }
        eprintln!("SKIPPED: browser test, {why}");
        return None;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = tokio::process::Command::new(&driver)
        .arg(format!("--port={port}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("chromedriver starts");
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({"binary": chromium, "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
            "--disable-dev-shm-usage", "--window-size=1280,1000", "--no-first-run", "--lang=en-US"]}),
    );
    let url = format!("http://127.0.0.1:{port}");
    let mut last = None;
    for _ in 0..100 {
        match ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps.clone())
            .connect(&url)
            .await
        {
            Ok(client) => {
                return Some(Browser {
                    client,
                    _driver: child,
                });
            }
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("chromedriver did not answer: {last:?}");
}

impl Browser {
    /// Open a URL.
    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.unwrap();
    }

    /// The first element matching `css`, waiting for it to appear.
    pub async fn find(&self, css: &str) -> fantoccini::elements::Element {
        match self
            .client
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Css(css))
            .await
        {
            Ok(e) => e,
            Err(e) => {
                self.screenshot("failure").await;
                let text = self.text("body").await;
                panic!(
                    "no `{css}` on {}: {e}\npage: {text}",
                    self.client.current_url().await.unwrap()
                );
            }
        }
    }

    /// Type into the field matching `css` (clearing it first).
    pub async fn fill(&self, css: &str, text: &str) {
        let el = self.find(css).await;
        el.clear().await.unwrap();
        el.send_keys(text).await.unwrap();
    }

    /// Click the element matching `css`.
    pub async fn click(&self, css: &str) {
        self.find(css).await.click().await.unwrap();
    }

    /// The visible text of the first element matching `css` ("" when absent).
    pub async fn text(&self, css: &str) -> String {
        match self.client.find(Locator::Css(css)).await {
            Ok(e) => e.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        }
    }

    /// Wait until the element matching `css` shows `needle` in its text.
    pub async fn wait_text(&self, css: &str, needle: &str) {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if self.text(css).await.contains(needle) {
                return;
            }
            if tokio::time::Instant::now() > deadline {
                self.screenshot("failure").await;
                panic!(
                    "`{css}` never showed {needle:?}; it shows {:?}",
                    self.text(css).await
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Wait until the location's hash is `hash`.
    pub async fn wait_hash(&self, hash: &str) {
        crate::common::eventually(&format!("the page at {hash}"), WAIT, async || {
            let url = self.client.current_url().await.unwrap();
            url.fragment().map(|f| format!("#{f}")).as_deref() == Some(hash)
        })
        .await;
    }

    /// Run a script in the page and return its value.
    pub async fn js(&self, script: &str) -> Value {
        self.client.execute(script, vec![]).await.unwrap()
    }

    /// Save a screenshot as `target/screenshots/<name>.png`.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let png = self.client.screenshot().await.unwrap();
        let dir = screenshots();
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).unwrap();
        path
    }

    /// Sign in through the form.
    pub async fn sign_in(&self, base: &str, email: &str, password: &str) {
        self.goto(&format!("{base}/")).await;
        self.wait_hash("#/signin").await;
        self.fill("#signin-form input[name=email]", email).await;
        // From the keyboard: Enter in the password field submits the form.
        self.fill(
            "#signin-form input[name=password]",
            &format!("{password}\u{E007}"),
        )
        .await;
        self.wait_hash("#/integrations").await;
        self.find("#signout").await;
    }

    /// A phone-sized window (390 × 844).
    pub async fn set_phone(&self) {
        self.client.set_window_size(390, 844).await.unwrap();
    }

    /// End the session.
    pub async fn close(self) {
        self.client.close().await.unwrap();
    }
}

/// Where screenshots go: the target dir's `screenshots/`.
pub fn screenshots() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join("screenshots")
}
