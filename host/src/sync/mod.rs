//! The sync engine: workers claim jobs (walks and single-resource jobs) from the durable queue and walk an integration
//! through its plugin, checkpointing after every page, skipping what did not change,
//! deleting what a complete full walk did not see, and turning every failure into the
//! right next step (delay, retry with backoff, dead letter, status change).

mod engine;
mod fresh;
mod resource;
mod scheduler;
mod sink;
mod source;
mod walk;

pub use engine::{EngineConfig, Outcome, SyncEngine};
pub use scheduler::{Workers, interval, priority, schedule_due};
pub use sink::{NoopSink, Sink, Skipped};
pub use source::Source;
