//! Warm verifying instances: deliveries of one integration share an instance; a failed
//! call, a changed config or idleness each end it, and its pool slot goes back.

use std::time::Duration;

use serde_json::json;

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_when_verifying_instances_are_reused_until_a_failure_a_change_or_idleness() {
    let (s, row, hook) = hooked(None, "warm@t.test").await;
    let db = s.state.db();
    let client = reqwest::Client::new();
    let warm = s.state.webhooks.warm();
    let deliver = |n: usize| {
        let (client, hook) = (client.clone(), hook.clone());
        async move {
            let body = json!({ "changed": [format!("w-{n}")] });
            post_with(&client, &hook, &body, None, None).await.0
        }
    };

    for n in 0..20 {
        assert_eq!(deliver(n).await, 200);
    }
    assert_eq!(warm.started(), 1, "one instance verified all 20");
    assert_eq!(warm.kept(), 1);
    assert_eq!(s.state.runtime.instances_in_use(), 1);

    // Another integration never gets this one's instance.
    let other = super::common::user_integration(db, "warm2@t.test", "paged").await;
    let other_hook = format!("{}/api/webhooks/integrations/paged/{}", s.base, other.id);
    let body = json!({ "changed": ["o"] });
    assert_eq!(
        post_with(&client, &other_hook, &body, None, None).await.0,
        200
    );
    assert_eq!((warm.started(), warm.kept()), (2, 2));
    warm.sweep(Duration::ZERO);
    assert_eq!(deliver(99).await, 200);
    assert_eq!((warm.started(), warm.kept()), (3, 1));

    // A forged delivery is a successful call (it answers "not verified"): kept.
    let (code, _, _) = post_with(
        &client,
        &hook,
        &json!({"changed": ["f"]}),
        Some("sha256=00".into()),
        None,
    )
    .await;
    assert_eq!(code, 401);
    assert_eq!((warm.started(), warm.kept()), (3, 1));

    // A call that fails (a body the plugin cannot read) does not go back.
    let (code, _, _) = post_with(&client, &hook, &json!(["not", "a", "hook"]), None, None).await;
    assert!(code >= 400, "{code}");
    assert_eq!(warm.kept(), 0);
    assert_eq!(s.state.runtime.instances_in_use(), 0);
    assert_eq!(deliver(20).await, 200);
    assert_eq!((warm.started(), warm.kept()), (4, 1));

    // A changed config is a different instance (the request path sees it within its
    // one-second lookup cache).
    let config = json!({"folder": "x"}).as_object().unwrap().clone();
    db.update_integration_settings(&row.id, &config, &row.storage_strategy, &row.sync_frequency)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    assert_eq!(deliver(21).await, 200);
    assert_eq!((warm.started(), warm.kept()), (5, 1));

    // Idle instances are released with their pool slots.
    warm.sweep(Duration::ZERO);
    assert_eq!(warm.kept(), 0);
    assert_eq!(s.state.runtime.instances_in_use(), 0);
}
