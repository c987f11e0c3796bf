//! The shapes integrations take in answers (personal, organization and admin routes
//! share them): never a credential, only what a person or a client needs to act.

use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::PluginView;
use crate::db::{Integration, SubscriptionRow, SyncJob};

/// An integration as the API shows it (never any credential).
#[derive(Debug, Serialize, ToSchema)]
pub struct IntegrationView {
    id: String,
    provider: String,
    owner: OwnerView,
    /// `ACTIVE`, `PAUSED`, `ERROR`, `RATE_LIMITED`, `TOKEN_EXPIRED` or `DISCONNECTED`.
    status: String,
    storage_strategy: String,
    sync_frequency: String,
    config: Map<String, Value>,
    account: AccountView,
    /// ms since the epoch.
    last_sync_at: Option<i64>,
    last_error: Option<String>,
    connected_by: String,
    connected_at: i64,
    updated_at: i64,
}

/// Whose an integration is.
#[derive(Debug, Serialize, ToSchema)]
pub struct OwnerView {
    /// `user` or `org`.
    kind: String,
    id: String,
}

/// The provider account an integration reads.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccountView {
    id: Option<String>,
    name: Option<String>,
}

/// An integration with its live state: the walk in flight, queued pushed changes, recent
/// jobs and the provider-side subscription.
#[derive(Debug, Serialize, ToSchema)]
pub struct IntegrationDetails {
    #[serde(flatten)]
    pub(super) integration: IntegrationView,
    /// The walk queued or running (its counts move with every page).
    pub(super) current_job: Option<SyncJob>,
    /// Webhook changes waiting to be applied.
    pub(super) pending_resource_jobs: i64,
    /// The last ten jobs, newest first.
    pub(super) recent_jobs: Vec<SyncJob>,
    /// The webhook registration at the provider: state, expiry, last failure.
    pub(super) subscription: Option<SubscriptionRow>,
}

/// A provider offered to the caller and whether it is connected.
#[derive(Debug, Serialize, ToSchema)]
pub struct Available {
    pub(super) provider: PluginView,
    pub(super) connected: bool,
    /// The integration's status when connected.
    pub(super) status: Option<String>,
}

/// `GET /api/integrations`.
#[derive(Debug, Serialize, ToSchema)]
pub struct AvailableList {
    pub(super) integrations: Vec<Available>,
}

/// `GET /api/integrations/connected`.
#[derive(Debug, Serialize, ToSchema)]
pub struct IntegrationList {
    integrations: Vec<IntegrationView>,
}

impl IntegrationList {
    /// The views of `list`.
    pub fn of(list: &[Integration]) -> Self {
        IntegrationList {
            integrations: list.iter().map(view).collect(),
        }
    }
}

/// The view of an integration.
pub fn view(i: &Integration) -> IntegrationView {
    IntegrationView {
        id: i.id.clone(),
        provider: i.provider.clone(),
        owner: OwnerView {
            kind: i.owner_kind.clone(),
            id: i.owner_id.clone(),
        },
        status: i.status.clone(),
        storage_strategy: i.storage_strategy.clone(),
        sync_frequency: i.sync_frequency.clone(),
        config: i.config.clone(),
        account: AccountView {
            id: i.account_id.clone(),
            name: i.account_name.clone(),
        },
        last_sync_at: i.last_sync_at,
        last_error: i.last_error.clone(),
        connected_by: i.connected_by.clone(),
        connected_at: i.connected_at,
        updated_at: i.updated_at,
    }
}
