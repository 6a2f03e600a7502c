//! `ShutdownProbe`: triggering a shutdown from a test and its exact phase instants.

use cancelable::shutdown::{Shutdown, ShutdownPhase};
use cancelable::testing::ShutdownProbe;

use super::secs;

#[tokio::test(start_paused = true)]
async fn the_probe_triggers_and_reads_exact_instants() {
    let shutdown = Shutdown::builder()
        .on_signals([])
        .drain(secs(2))
        .grace(secs(10))
        .build();
    let probe = ShutdownProbe::new(&shutdown);
    assert!(probe.phases().is_empty());
    let root = shutdown.root().clone();
    root.spawn(async {
        let op = cancelable::Cancelable::current().unwrap();
        op.shield(tokio::time::sleep(secs(60))).await
    });
    let service = tokio::spawn(async move { shutdown.run(std::future::pending::<()>()).await });
    tokio::time::sleep(secs(3)).await;
    probe.trigger("from the test");
    probe.wait_for(ShutdownPhase::Done).await;
    assert_eq!(
        probe.phases(),
        [
            (ShutdownPhase::Draining, secs(3)),
            (ShutdownPhase::Cancelling, secs(5)),
            (ShutdownPhase::Forcing, secs(13)),
            (ShutdownPhase::Done, secs(13)),
        ]
    );
    probe.assert_phase_at(ShutdownPhase::Forcing, secs(13));
    assert_eq!(probe.phase_at(ShutdownPhase::Cancelling), Some(secs(5)));
    assert_eq!(service.await.unwrap().exit_code(), 1);
}

#[tokio::test(start_paused = true)]
#[should_panic(
    expected = "expected the forcing phase at 1s, but it never began; phases seen:\n  (none: the shutdown was not triggered)"
)]
async fn a_phase_that_never_began_fails_with_what_was_seen() {
    let shutdown = Shutdown::builder().on_signals([]).build();
    ShutdownProbe::new(&shutdown).assert_phase_at(ShutdownPhase::Forcing, secs(1));
}

#[tokio::test(start_paused = true)]
#[should_panic(
    expected = "expected the cancelling phase at 1s, but it began at 0ns; phases seen:\n  draining at 0ns\n  cancelling at 0ns\n  done at 0ns"
)]
async fn a_phase_at_another_instant_fails_with_every_phase() {
    let shutdown = Shutdown::builder().on_signals([]).build();
    let probe = ShutdownProbe::new(&shutdown);
    probe.trigger("now");
    let root = shutdown.root().clone();
    shutdown.run(async move { root.cancelled().await }).await;
    probe.assert_phase_at(ShutdownPhase::Cancelling, secs(1));
}
