//! Per-call store data: WASI (no files, no sockets), resource limits, the call's
//! integration context and the host services the capabilities use.

use std::sync::Arc;
use std::time::Instant;

use wasmtime::component::ResourceTable;
use wasmtime::{StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::engine::Limits;
use crate::model::Manifest;
use crate::services::Services;

/// The integration a call runs for: its id (scopes kv and credentials) and its config.
#[derive(Debug, Clone)]
pub struct Integration {
    /// Integration id.
    pub id: String,
    /// User settings over the provider's defaults.
    pub config: Vec<(String, String)>,
    /// A credential being validated before it is stored (connect, OAuth callback); it
    /// takes the place of the stored one for this call.
    pub candidate: Option<crate::credentials::Credential>,
}

impl Integration {
    /// An integration with the given id and config.
    pub fn new(id: impl Into<String>, config: Vec<(String, String)>) -> Self {
        Integration {
            id: id.into(),
            config,
            candidate: None,
        }
    }

    /// The same integration, calling with `credential` instead of the stored one.
    pub fn with_candidate(mut self, credential: crate::credentials::Credential) -> Self {
        self.candidate = Some(credential);
        self
    }
}

/// What a call runs as: the plugin's manifest, the integration, the host services.
/// Shared (`Arc`) so host functions can hold it across awaits.
pub struct CallContext {
    /// The provider's manifest (allowed hosts, permissions, injection).
    pub(crate) manifest: Arc<Manifest>,
    /// The integration, or none for calls outside one (manifest).
    pub(crate) integration: Option<Integration>,
    pub(crate) services: Arc<Services>,
    /// Wall time an export call may take (host waits count against it).
    pub(crate) call_timeout: std::time::Duration,
}

impl CallContext {
    /// The plugin's id, for logs and settings.
    pub(crate) fn provider_id(&self) -> &str {
        &self.manifest.id
    }

    /// The integration id, or a typed `forbidden` error for calls outside an integration.
    pub(crate) fn integration_id(&self) -> Result<&str, crate::model::PluginError> {
        self.integration
            .as_ref()
            .map(|i| i.id.as_str())
            .ok_or_else(|| {
                crate::model::PluginError::Forbidden("this call runs outside an integration".into())
            })
    }

    /// The credential for this call: the candidate under validation, else the stored one.
    pub(crate) async fn credential(
        &self,
    ) -> Result<Option<crate::credentials::Credential>, crate::model::PluginError> {
        if let Some(c) = self.integration.as_ref().and_then(|i| i.candidate.clone()) {
            return Ok(Some(c));
        }
        let id = self.integration_id()?;
        self.services.credentials.current(id).await
    }

    /// Refresh the credential for this call (a candidate is returned as it is).
    pub(crate) async fn refresh_credential(
        &self,
    ) -> Result<crate::credentials::Credential, crate::model::PluginError> {
        if let Some(c) = self.integration.as_ref().and_then(|i| i.candidate.clone()) {
            return Ok(c);
        }
        let id = self.integration_id()?;
        self.services.credentials.refresh(id).await
    }

    /// The integration's config (empty outside one).
    pub(crate) fn config(&self) -> &[(String, String)] {
        self.integration
            .as_ref()
            .map(|i| i.config.as_slice())
            .unwrap_or(&[])
    }
}

/// Store data of one plugin call.
pub struct PluginState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) limits: StoreLimits,
    /// Panic messages and anything else the plugin writes to stderr.
    pub(crate) stderr: MemoryOutputPipe,
    /// When the current export call must end.
    pub(crate) deadline: Instant,
    pub(crate) call: Arc<CallContext>,
}

/// Bytes of plugin stderr kept for error messages.
const STDERR_CAPACITY: usize = 16 * 1024;

impl PluginState {
    pub(crate) fn new(
        limits: &Limits,
        manifest: Arc<Manifest>,
        integration: Option<Integration>,
        services: Arc<Services>,
    ) -> Self {
        let stderr = MemoryOutputPipe::new(STDERR_CAPACITY);
        // No preopens, no environment, no sockets: plugins reach the world only through
        // the host's capabilities.
        let wasi = WasiCtx::builder()
            .stderr(stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        PluginState {
            wasi,
            table: ResourceTable::new(),
            limits: StoreLimitsBuilder::new()
                .memory_size(limits.memory_bytes)
                .tables(limits.tables as usize)
                .table_elements(limits.table_elements)
                .instances(limits.core_instances as usize)
                .memories(limits.core_instances as usize)
                .trap_on_grow_failure(true)
                .build(),
            stderr,
            deadline: Instant::now() + limits.call_timeout,
            call: Arc::new(CallContext {
                manifest,
                integration,
                services,
                call_timeout: limits.call_timeout,
            }),
        }
    }
}

impl WasiView for PluginState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}
