//! The audit trail's housekeeping, one background task per instance: keep the head file in
//! step with the store (at most [`HEAD_EVERY`] behind) and prune by age and count every
//! `audit.prune_interval`.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::chain::HeadFile;
use crate::config::AuditConfig;
use crate::store::Store;

/// How often the head file is brought up to date: a tail deleted from the store within this
/// long of being written may escape the head-file check (the chain's own links still cover it
/// once later rows follow).
pub const HEAD_EVERY: Duration = Duration::from_secs(1);

/// Runs until `shutdown`, then writes the head file one last time.
pub async fn run(
    store: Store,
    head_file: HeadFile,
    config: AuditConfig,
    shutdown: CancellationToken,
) {
    let mut head_tick = tokio::time::interval(HEAD_EVERY);
    let mut prune_tick = tokio::time::interval(config.prune_interval);
    let mut last = None;
    loop {
        tokio::select! {
            _ = head_tick.tick() => sync_head(&store, &head_file, &mut last).await,
            _ = prune_tick.tick(), if config.retention.is_some() || config.max_events.is_some() => {
                prune(&store, &config).await;
                sync_head(&store, &head_file, &mut last).await;
            }
            () = shutdown.cancelled() => break,
        }
    }
}

/// Writes the store's head to the file if it moved.
pub async fn sync_head(store: &Store, head_file: &HeadFile, last: &mut Option<super::chain::Head>) {
    match store.audit_head().await {
        Ok(Some(head)) if last.as_ref() != Some(&head) => {
            // Off the reactor: the write waits for the disk (fsync).
            let (file, written) = (head_file.clone(), head.clone());
            match tokio::task::spawn_blocking(move || file.write(&written)).await {
                Ok(Ok(())) => *last = Some(head),
                Ok(Err(e)) => tracing::error!(error = %e, "cannot write the audit head file"),
                Err(e) => tracing::error!(error = %e, "the audit head file's writer failed"),
            }
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "cannot read the audit chain head"),
    }
}

/// One pruning pass.
pub async fn prune(store: &Store, config: &AuditConfig) {
    let before = config.retention.map(|r| {
        crate::time::to_micros(crate::time::now())
            .saturating_sub(i64::try_from(r.as_micros()).unwrap_or(i64::MAX))
    });
    match store.prune_audit(before, config.max_events).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(events = n, "pruned the audit trail"),
        Err(e) => tracing::error!(error = %e, "audit pruning failed"),
    }
}
