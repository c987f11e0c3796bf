//! `tributary index migrate --to <url>`: copy every point of one store into another
//! (ids, vectors and payloads as they are), so an index moves to a Qdrant server without
//! syncing anything again. Copying is idempotent: a run stopped half way is run again.

use super::VectorStore;

/// Points per page read from the source and written to the target.
const PAGE: usize = 512;

/// What a migration did.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Migrated {
    /// Points in the source.
    pub source_points: usize,
    /// Points the target held before.
    pub target_before: usize,
    /// Points copied.
    pub copied: usize,
    /// Points the target holds now.
    pub target_after: usize,
}

/// Copy every point of `from` into `to`; `progress` hears the running count.
///
/// Both stores must hold dense vectors of the same size (or none): the target collection
/// is made with the source's size before this is called.
pub async fn migrate(
    from: &dyn VectorStore,
    to: &dyn VectorStore,
    mut progress: impl FnMut(usize),
) -> anyhow::Result<Migrated> {
    if from.dense_size() != to.dense_size() {
        anyhow::bail!(
            "{} holds dense vectors of size {:?} but {} holds {:?}",
            from.describe(),
            from.dense_size(),
            to.describe(),
            to.dense_size()
        );
    }
    let mut report = Migrated {
        source_points: from.count(None).await?,
        target_before: to.count(None).await?,
        ..Migrated::default()
    };
    let mut next = None;
    loop {
        let page = from.export(next, PAGE).await?;
        let n = page.points.len();
        to.import(page.points).await?;
        report.copied += n;
        progress(report.copied);
        match page.next {
            Some(id) => next = Some(id),
            None => break,
        }
    }
    report.target_after = to.count(None).await?;
    Ok(report)
}
