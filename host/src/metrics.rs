//! Prometheus metrics (`prometheus-client`, OpenMetrics text): counters and histograms
//! recorded where things happen (job outcomes, resources, plugin calls, webhook
//! deliveries, dropped log lines), and gauges set from the queue and the runtime at
//! scrape time, so every replica reports the shared queue as it is now.

use std::sync::OnceLock;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Buckets of the plugin call latency histogram, in seconds.
const CALL_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Provider {
    provider: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Outcome {
    provider: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Call {
    plugin: String,
    export: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Plugin {
    plugin: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Queue {
    status: String,
    priority: String,
}

type FloatGauge = Gauge<f64, AtomicU64>;

struct Metrics {
    registry: Registry,
    calls: Family<Call, Histogram, fn() -> Histogram>,
    jobs: Family<Outcome, Counter>,
    synced: Family<Provider, Counter>,
    failed: Family<Provider, Counter>,
    webhooks: Family<Outcome, Counter>,
    log_dropped: Family<Plugin, Counter>,
    delivery_commit: Histogram,
    delivery_batch: Histogram,
    queue: Family<Queue, Gauge>,
    oldest_due: FloatGauge,
    running: Family<Provider, Gauge>,
    pool_in_use: Gauge,
    pool_size: Gauge,
}

fn call_histogram() -> Histogram {
    Histogram::new(CALL_BUCKETS.iter().copied())
}

/// The process-wide metrics (every host in the process shares them).
fn metrics() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(|| {
        let mut r = Registry::default();
        let m = Metrics {
            calls: Family::new_with_constructor(call_histogram),
            jobs: Family::default(),
            synced: Family::default(),
            failed: Family::default(),
            webhooks: Family::default(),
            log_dropped: Family::default(),
            delivery_commit: call_histogram(),
            delivery_batch: Histogram::new([1.0, 4.0, 16.0, 64.0, 256.0, 1024.0]),
            queue: Family::default(),
            oldest_due: FloatGauge::default(),
            running: Family::default(),
            pool_in_use: Gauge::default(),
            pool_size: Gauge::default(),
            registry: Registry::default(),
        };
        r.register(
            "tributary_plugin_call_seconds",
            "Plugin export call latency",
            m.calls.clone(),
        );
        r.register(
            "tributary_jobs",
            "Sync jobs ended or requeued, by outcome",
            m.jobs.clone(),
        );
        r.register(
            "tributary_resources_synced",
            "Resources synced",
            m.synced.clone(),
        );
        r.register(
            "tributary_resources_failed",
            "Resources that failed",
            m.failed.clone(),
        );
        r.register(
            "tributary_webhook_deliveries",
            "Webhook deliveries by outcome",
            m.webhooks.clone(),
        );
        r.register(
            "tributary_webhook_commit_seconds",
            "Time to commit one batch of webhook deliveries",
            m.delivery_commit.clone(),
        );
        r.register(
            "tributary_webhook_commit_batch_size",
            "Webhook deliveries written by one commit",
            m.delivery_batch.clone(),
        );
        r.register(
            "tributary_plugin_log_lines_dropped",
            "Plugin log lines over budget",
            m.log_dropped.clone(),
        );
        r.register(
            "tributary_queue_jobs",
            "Jobs by status and priority",
            m.queue.clone(),
        );
        r.register(
            "tributary_queue_oldest_due_seconds",
            "Wait of the oldest due job",
            m.oldest_due.clone(),
        );
        r.register(
            "tributary_running_jobs",
            "Running jobs by provider",
            m.running.clone(),
        );
        r.register(
            "tributary_instance_pool_in_use",
            "Plugin instances in use",
            m.pool_in_use.clone(),
        );
        r.register(
            "tributary_instance_pool_size",
            "Plugin instances the pool holds",
            m.pool_size.clone(),
        );
        Metrics { registry: r, ..m }
    })
}

/// Set up the metrics (cheap; they are created on first use otherwise).
pub fn init() {
    metrics();
}

/// One export call of a plugin took `took`.
pub fn plugin_call(plugin: &str, export: &str, took: Duration) {
    let export = export.strip_prefix("call_").unwrap_or(export);
    let labels = Call {
        plugin: plugin.into(),
        export: export.into(),
    };
    metrics()
        .calls
        .get_or_create(&labels)
        .observe(took.as_secs_f64());
}

/// A job ended (or went back to the queue) with `outcome`.
pub fn job_outcome(provider: &str, outcome: &str) {
    let labels = Outcome {
        provider: provider.into(),
        outcome: outcome.into(),
    };
    metrics().jobs.get_or_create(&labels).inc();
}

/// Resources a walk synced and failed.
pub fn resources(provider: &str, synced: u64, failed: u64) {
    let labels = Provider {
        provider: provider.into(),
    };
    if synced > 0 {
        metrics().synced.get_or_create(&labels).inc_by(synced);
    }
    if failed > 0 {
        metrics().failed.get_or_create(&labels).inc_by(failed);
    }
}

/// A webhook delivery was answered with `outcome`.
pub fn webhook(provider: &str, outcome: &str) {
    let labels = Outcome {
        provider: provider.into(),
        outcome: outcome.into(),
    };
    metrics().webhooks.get_or_create(&labels).inc();
}

/// One group commit of webhook deliveries.
pub fn delivery_batch(n: usize, took: Duration) {
    let m = metrics();
    m.delivery_commit.observe(took.as_secs_f64());
    m.delivery_batch.observe(n as f64);
}

/// Plugin log lines dropped by the log budget.
pub fn log_dropped(plugin: &str, lines: u64) {
    let labels = Plugin {
        plugin: plugin.into(),
    };
    metrics().log_dropped.get_or_create(&labels).inc_by(lines);
}

/// Gauges read at scrape time.
pub struct Snapshot {
    /// Jobs by (status, priority).
    pub queue: Vec<(String, i64, i64)>,
    /// Seconds the oldest due pending job has waited.
    pub oldest_due_seconds: f64,
    /// Running jobs by provider.
    pub running: Vec<(String, i64)>,
    /// Instances in use and the pool's size.
    pub pool: (usize, u32),
}

/// Render everything in the OpenMetrics text format (which Prometheus scrapes).
pub fn render(s: &Snapshot) -> String {
    let m = metrics();
    for (status, priority, n) in &s.queue {
        let labels = Queue {
            status: status.clone(),
            priority: priority.to_string(),
        };
        m.queue.get_or_create(&labels).set(*n);
    }
    m.oldest_due.set(s.oldest_due_seconds);
    for (provider, n) in &s.running {
        let labels = Provider {
            provider: provider.clone(),
        };
        m.running.get_or_create(&labels).set(*n);
    }
    m.pool_in_use.set(s.pool.0 as i64);
    m.pool_size.set(i64::from(s.pool.1));
    let mut out = String::new();
    prometheus_client::encoding::text::encode(&mut out, &m.registry)
        .expect("writing to a String cannot fail");
    out
}
