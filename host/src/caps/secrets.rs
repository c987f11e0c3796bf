//! `secrets`: the calling provider's own app secrets, looked up under its manifest id only.

use crate::bindings::latest::tributary::provider::secrets::Host;
use crate::bindings::latest::tributary::provider::types::Error as WitError;
use crate::model::PluginError;
use crate::runtime::PluginState;

impl Host for PluginState {
    async fn get(&mut self, name: String) -> wasmtime::Result<Result<Option<String>, WitError>> {
        if name.is_empty() || name.len() > 128 {
            return Ok(Err(PluginError::InvalidInput(
                "secret names are 1..=128 bytes".into(),
            )
            .into()));
        }
        Ok(Ok(self
            .call
            .services
            .secret(self.call.provider_id(), &name)))
    }
}
