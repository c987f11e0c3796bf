//! `tokens`: what credential the integration holds, a forced refresh, and the raw secret
//! only when the manifest asks for `raw-token` and an admin approved it.

use crate::bindings::latest::tributary::provider::tokens::{CredentialInfo, CredentialKind, Host};
use crate::bindings::latest::tributary::provider::types::Error as WitError;
use crate::credentials::{Credential, Kind};
use crate::model::Permission;
use crate::model::PluginError;
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
    async fn info(&mut self) -> wasmtime::Result<Result<Option<CredentialInfo>, WitError>> {
        let call = self.call.clone();
        Ok(async move {
            let id = call.integration_id()?;
            Ok::<_, PluginError>(
                call.services
                    .credentials
                    .current(id)
                    .await?
                    .as_ref()
                    .map(info),
            )
        }
        .await
        .map_err(Into::into))
    }

    async fn refresh(&mut self) -> wasmtime::Result<Result<CredentialInfo, WitError>> {
        let call = self.call.clone();
        Ok(call
            .refresh_credential()
            .await
            .map(|c| info(&c))
            .map_err(Into::into))
    }

    async fn raw(&mut self) -> wasmtime::Result<Result<String, WitError>> {
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
        .await
        .map_err(Into::into))
    }
}
