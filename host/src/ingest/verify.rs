//! `tributary index verify`: compare the synced-resources records with the vector store
//! and, with `repair`, make them agree again (also while hosts write to a shared server).
//! A resource recorded as indexed but without points is forgotten and its integration
//! gets a full sync (which fetches it again); a point whose resource is not recorded, or
//! whose integration is gone, is deleted.

use std::collections::HashSet;

use serde::Serialize;

use crate::db::{Db, status};
use crate::index::VectorStore;

/// Drift of one integration.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Drift {
    /// Integration id.
    pub integration_id: String,
    /// Recorded as indexed, but no points.
    pub missing: Vec<String>,
    /// Points, but not recorded (or recorded as skipped).
    pub orphaned: Vec<String>,
}

/// What a verification found (and, with repair, fixed).
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Report {
    /// Integrations compared.
    pub integrations: usize,
    /// Resources recorded as indexed.
    pub resources: usize,
    /// Integrations that disagree.
    pub drift: Vec<Drift>,
    /// Integration ids with points but no row (or disconnected and purged).
    pub unknown_integrations: Vec<String>,
    /// Whether the drift was repaired.
    pub repaired: bool,
}

impl Report {
    /// True when records and store agree.
    pub fn clean(&self) -> bool {
        self.drift.is_empty() && self.unknown_integrations.is_empty()
    }
}

/// Compare every integration's records with the store; repair when asked.
pub async fn verify(db: &Db, store: &dyn VectorStore, repair: bool) -> anyhow::Result<Report> {
    let mut report = Report {
        repaired: repair,
        ..Report::default()
    };
    let rows = db.all_integrations(None, i64::MAX).await?;
    let known: HashSet<&str> = rows.iter().map(|r| r.id.as_str()).collect();
    for row in &rows {
        report.integrations += 1;
        // Records are read before and after the store: with hosts running (a shared
        // server), a page written meanwhile has its points before its records, so only
        // what was recorded both times can be missing, and only what was recorded neither
        // time is orphaned.
        let before: HashSet<String> = db.indexed_ids(&row.id).await?.into_iter().collect();
        let stored = store.resources(&row.id).await?;
        let after: HashSet<String> = db.indexed_ids(&row.id).await?.into_iter().collect();
        report.resources += after.len();
        let mut missing: Vec<String> = before
            .intersection(&after)
            .filter(|id| !stored.contains(*id))
            .cloned()
            .collect();
        let mut orphaned: Vec<String> = stored
            .iter()
            .filter(|id| !before.contains(*id) && !after.contains(*id))
            .cloned()
            .collect();
        if missing.is_empty() && orphaned.is_empty() {
            continue;
        }
        missing.sort();
        orphaned.sort();
        if repair {
            store.delete(&row.id, &orphaned).await?;
            db.delete_synced(&row.id, &missing).await?;
            let syncs = row.status != status::DISCONNECTED && row.status != status::PAUSED;
            if !missing.is_empty() && syncs {
                db.request_sync(&row.id, &row.provider, "full", "manual")
                    .await?;
            }
        }
        report.drift.push(Drift {
            integration_id: row.id.clone(),
            missing,
            orphaned,
        });
    }
    let mut unknown: Vec<String> = store
        .integrations()
        .await?
        .into_iter()
        .filter(|i| !known.contains(i.as_str()))
        .collect();
    unknown.sort();
    if repair {
        for id in &unknown {
            store.purge(id).await?;
        }
    }
    report.unknown_integrations = unknown;
    Ok(report)
}
