//! Prometheus metrics: counters and histograms recorded where things happen (job
//! outcomes, resources, plugin calls, webhook deliveries, dropped log lines) through the
//! `metrics` facade, and gauges read from the queue and the runtime at scrape time, so
//! every replica reports the shared queue as it is now.

use std::sync::OnceLock;
use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Buckets of the plugin call latency histogram, in seconds.
const CALL_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// The process-wide recorder (installed once; every host in the process shares it).
pub fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Full("tributary_plugin_call_seconds".into()),
                CALL_BUCKETS,
            )
            .expect("static buckets are valid");
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        // Another recorder may already be installed (an embedding application): then our
        // counters go there and this handle renders only the gauges set through it.
        let _ = ::metrics::set_global_recorder(recorder);
        handle
    })
}

/// One export call of a plugin took `took`.
pub fn plugin_call(plugin: &str, export: &str, took: Duration) {
    let export = export.strip_prefix("call_").unwrap_or(export);
    ::metrics::histogram!("tributary_plugin_call_seconds", "plugin" => plugin.to_string(), "export" => export.to_string())
        .record(took.as_secs_f64());
}

/// A job ended (or went back to the queue) with `outcome`.
pub fn job_outcome(provider: &str, outcome: &str) {
    ::metrics::counter!("tributary_jobs_total", "provider" => provider.to_string(), "outcome" => outcome.to_string())
        .increment(1);
}

/// Resources a walk synced and failed.
pub fn resources(provider: &str, synced: u64, failed: u64) {
    if synced > 0 {
        ::metrics::counter!("tributary_resources_synced_total", "provider" => provider.to_string())
            .increment(synced);
    }
    if failed > 0 {
        ::metrics::counter!("tributary_resources_failed_total", "provider" => provider.to_string())
            .increment(failed);
    }
}

/// A webhook delivery was answered with `outcome`.
pub fn webhook(provider: &str, outcome: &str) {
    ::metrics::counter!("tributary_webhook_deliveries_total", "provider" => provider.to_string(), "outcome" => outcome.to_string())
        .increment(1);
}

/// Plugin log lines (and their bytes) dropped by the log budget.
pub fn log_dropped(plugin: &str, lines: u64) {
    ::metrics::counter!("tributary_plugin_log_lines_dropped_total", "plugin" => plugin.to_string())
        .increment(lines);
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

/// Render everything in the Prometheus text format.
pub fn render(s: &Snapshot) -> String {
    let h = handle();
    for (status, priority, n) in &s.queue {
        ::metrics::gauge!("tributary_queue_jobs", "status" => status.clone(), "priority" => priority.to_string())
            .set(*n as f64);
    }
    ::metrics::gauge!("tributary_queue_oldest_due_seconds").set(s.oldest_due_seconds);
    for (provider, n) in &s.running {
        ::metrics::gauge!("tributary_running_jobs", "provider" => provider.clone()).set(*n as f64);
    }
    ::metrics::gauge!("tributary_instance_pool_in_use").set(s.pool.0 as f64);
    ::metrics::gauge!("tributary_instance_pool_size").set(s.pool.1 as f64);
    h.render()
}
