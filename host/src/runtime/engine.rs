//! The wasmtime `Engine`: pooling allocator, epoch interruption and the ticker thread.

use std::time::Duration;

use wasmtime::{
    Config, Enabled, Engine, EngineWeak, InstanceAllocationStrategy, PoolingAllocationConfig,
};

/// How often the epoch advances; the granularity of time limits and of yielding to tokio.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Limits shared by every plugin instance.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Linear memory per instance, in bytes.
    pub memory_bytes: usize,
    /// Wall time per export call.
    pub call_timeout: Duration,
    /// Concurrent instances the pool holds (all plugins together).
    pub pool_instances: u32,
    /// Tables per instance.
    pub tables: u32,
    /// Elements per table.
    pub table_elements: usize,
    /// Core instances per component instance.
    pub core_instances: u32,
    /// How long a new session waits for a free pool slot before it fails.
    pub pool_wait: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_bytes: 128 << 20,
            call_timeout: Duration::from_secs(30),
            pool_instances: 64,
            tables: 32,
            table_elements: 100_000,
            core_instances: 32,
            pool_wait: Duration::from_secs(30),
        }
    }
}

impl Limits {
    /// Defaults with `TRIBUTARY_POOL_INSTANCES` (instances at once, all plugins) and
    /// `TRIBUTARY_POOL_WAIT_MS` (how long a call waits for a free instance) applied.
    pub fn from_env() -> Self {
        let var = |name: &str| -> Option<u64> {
            std::env::var(name)
                .ok()
                .and_then(|v| v.trim().parse().ok())
                .filter(|v: &u64| *v > 0)
        };
        let d = Limits::default();
        Limits {
            pool_instances: var("TRIBUTARY_POOL_INSTANCES")
                .map(|v| v.min(10_000) as u32)
                .unwrap_or(d.pool_instances),
            pool_wait: var("TRIBUTARY_POOL_WAIT_MS")
                .map(Duration::from_millis)
                .unwrap_or(d.pool_wait),
            ..d
        }
    }
}

/// Build the engine every plugin shares.
pub fn build_engine(limits: &Limits) -> anyhow::Result<Engine> {
    let mut pool = PoolingAllocationConfig::default();
    pool.total_component_instances(limits.pool_instances)
        .total_core_instances(limits.pool_instances * limits.core_instances)
        .total_memories(limits.pool_instances * limits.core_instances)
        .total_tables(limits.pool_instances * limits.tables)
        .max_memory_size(limits.memory_bytes)
        .max_tables_per_component(limits.tables)
        .max_memories_per_component(limits.core_instances)
        .max_core_instances_per_component(limits.core_instances)
        .table_elements(limits.table_elements)
        // Reused slots stay resident and only the pages a call dirtied are reset (Linux
        // PAGEMAP_SCAN, 6.7+): a new instance then takes no page faults on its stack,
        // data and first heap pages. Without the ioctl this falls back to madvise.
        .pagemap_scan(Enabled::Auto)
        .linear_memory_keep_resident(4 << 20)
        .table_keep_resident(64 << 10);

    let mut config = Config::new();
    config
        .epoch_interruption(true)
        .wasm_component_model(true)
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    Ok(Engine::new(&config)?)
}

/// Advance the engine's epoch every [`EPOCH_TICK`] until the engine is dropped.
pub fn spawn_epoch_ticker(engine: EngineWeak) {
    std::thread::Builder::new()
        .name("tributary-epoch".into())
        .spawn(move || {
            while let Some(engine) = engine.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(EPOCH_TICK);
            }
        })
        .expect("spawning the epoch thread");
}
