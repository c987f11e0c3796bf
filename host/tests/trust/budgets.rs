//! What a plugin may write: log lines within a rate and byte budget (the rest counted
//! and reported in one line), kv within a byte quota besides the key count.

use std::sync::{Arc, Mutex, OnceLock};

use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tributary::runtime::Integration;

use super::common::*;
use super::limits;

/// Plugin log events seen by the process-wide subscriber: (integration, message bytes,
/// dropped_lines field when present).
type Seen = Arc<Mutex<Vec<(String, usize, Option<u64>)>>>;

#[derive(Default)]
struct Fields {
    integration: String,
    message: usize,
    dropped: Option<u64>,
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let text = format!("{value:?}");
        match field.name() {
            "message" => self.message = text.len(),
            "integration" => self.integration = text.trim_matches('"').to_string(),
            _ => {}
        }
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "message" => self.message = value.len(),
            "integration" => self.integration = value.to_string(),
            _ => {}
        }
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        if field.name() == "dropped_lines" {
            self.dropped = Some(value);
        }
    }
}

struct Capture(Seen);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Capture {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        if event.metadata().target() != "plugin" {
            return;
        }
        let mut f = Fields::default();
        event.record(&mut f);
        self.0
            .lock()
            .unwrap()
            .push((f.integration, f.message, f.dropped));
    }
}

fn captured() -> Seen {
    static SEEN: OnceLock<Seen> = OnceLock::new();
    SEEN.get_or_init(|| {
        let seen = Seen::default();
        let subscriber = tracing_subscriber::registry()
            .with(tracing_subscriber::filter::LevelFilter::INFO)
            .with(Capture(seen.clone()));
        tracing::subscriber::set_global_default(subscriber).expect("one subscriber per binary");
        seen
    })
    .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_when_a_log_flood_is_cut_to_the_budget_and_reported_once() {
    let seen = captured();
    let t = host(None, &["misbehave"], limits(), false).await;
    let config = vec![("mode".into(), "log-storm".into())];
    let mut s = t
        .runtime
        .session("misbehave", Some(Integration::new("storm-int", config)))
        .await
        .unwrap();
    // 100,000 lines of 1 KB in one call.
    let page = s.list(&full(10)).await.unwrap();
    assert_eq!(page.resources[0].title, "stormed");
    drop(s);
    let mine: Vec<_> = seen
        .lock()
        .unwrap()
        .iter()
        .filter(|(i, _, _)| i == "storm-int")
        .cloned()
        .collect();
    let written: usize = mine
        .iter()
        .filter(|(_, _, d)| d.is_none())
        .map(|(_, n, _)| n)
        .sum();
    let reports: Vec<u64> = mine.iter().filter_map(|(_, _, d)| *d).collect();
    assert!(
        written <= 512 * 1024,
        "{written} bytes of plugin log from one call"
    );
    assert_eq!(reports.len(), 1, "one line reports the drop: {reports:?}");
    assert!(
        reports[0] >= 99_000 && reports[0] + mine.len() as u64 - 1 == 100_000,
        "every line is written or counted: {} reported, {} written",
        reports[0],
        mine.len() - 1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_when_kv_values_pass_the_byte_quota() {
    let t = host(None, &["misbehave"], limits(), false).await;
    let config = vec![("mode".into(), "kv-fill".into())];
    let mut s = t
        .runtime
        .session("misbehave", Some(Integration::new("kv-int", config)))
        .await
        .unwrap();
    let page = s.list(&full(10)).await.unwrap();
    let (stored, refusal) = page.resources[0].title.split_once('|').unwrap();
    let stored: usize = stored.parse().unwrap();
    let quota = t.runtime.services().quotas.kv_bytes as usize;
    assert_eq!(
        stored,
        quota / ((1 << 20) + 8),
        "1 MiB values until the quota"
    );
    assert!(refusal.contains("limited to"), "{refusal}");
    let (keys, bytes) = t
        .runtime
        .services()
        .db
        .kv_usage("kv-int", "")
        .await
        .unwrap();
    assert_eq!(keys as usize, stored);
    assert!(bytes as usize <= quota);
}
