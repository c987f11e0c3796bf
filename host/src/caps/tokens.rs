//! `tokens`: what credential the integration holds, a forced refresh, and the raw secret
//! only when the manifest asks for `raw-token` and an admin approved it.

use crate::bindings::PluginError;
use crate::bindings::api::Permission;
use crate::bindings::tributary::provider::tokens::{CredentialInfo, CredentialKind, Host};
use crate::credentials::{Credential, Kind};
use crate::runtime::PluginState;

/// The permission name admins approve.
pub const RAW_TOKEN: &str = "raw-token";

fn info(c: &Credential) -> CredentialInfo {
    CredentialInfo {
        kind: match c.kind {
            Kind::Oauth2 => CredentialKind::Oauth2,
            Kind::ApiKey => CredentialKind::ApiKey,
            Kind::Basic => CredentialKind::Basic,
        },
        scopes: c.scopes.clone(),
        expires_at: c.expires_at,
    }
}

impl Host for PluginState {
    async fn info(&mut self) -> wasmtime::Result<Result<Option<CredentialInfo>, PluginError>> {
        let call = self.call.clone();
        Ok(async move {
            let id = call.integration_id()?;
            Ok(call
                .services
                .credentials
                .current(id)
                .await?
                .as_ref()
                .map(info))
        }
        .await)
    }

    async fn refresh(&mut self) -> wasmtime::Result<Result<CredentialInfo, PluginError>> {
        let call = self.call.clone();
        Ok(async move { Ok(info(&call.refresh_credential().await?)) }.await)
    }

    async fn raw(&mut self) -> wasmtime::Result<Result<String, PluginError>> {
        let call = self.call.clone();
        Ok(async move {
            if !call.manifest.permissions.contains(&Permission::RawToken) {
                return Err(PluginError::Forbidden(
                    "the manifest does not request `raw-token`".into(),
                ));
            }
            if !call
                .services
                .settings(call.provider_id())
                .approved_permissions
                .contains(RAW_TOKEN)
            {
                return Err(PluginError::Forbidden(
                    "an admin has not approved `raw-token` for this provider".into(),
                ));
            }
            call.credential().await?.map(|c| c.secret).ok_or_else(|| {
                PluginError::Unauthorized("the integration has no credentials".into())
            })
        }
        .await)
    }
}
