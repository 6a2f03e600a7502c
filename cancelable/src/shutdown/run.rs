//! [`Shutdown::run`]: the phases, driven by one future, with no task of its own.

use std::future::{Future, poll_fn};
use std::pin::{Pin, pin};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::{Instant, Sleep};

use super::report::{Leftover, LeftoverKind, PhaseTimes, ShutdownReport, chain};
use super::triggers::{Fired, Watch};
use super::{Escalation, Shutdown, ShutdownPhase};
use crate::error::{CancellationError, CancellationReason, DisplayDuration};
use crate::status::OperationStatus;

/// How a phase ended.
enum Ended {
    /// Its deadline passed.
    Deadline,
    /// The body and every operation under the root have ended.
    Idle,
    /// A later trigger escalated to forcing.
    Escalated(Fired),
}

impl Shutdown {
    /// Runs the service `body` under the [root](Self::root), waits for a trigger, walks the
    /// phases and returns the report once everything under the root has ended (or forcing
    /// swept).
    ///
    /// The body is polled inside the root, so operations it starts are the root's children;
    /// it is not dropped when the root is cancelled, but polled on until it returns or forcing
    /// cuts it, so that a server can finish its last requests. A body that returns before any
    /// trigger is itself the trigger ([`Trigger::BodyEnded`](super::Trigger::BodyEnded)): the
    /// operations still running under the root are then shut down the same way.
    ///
    /// Like the root's own [`Cancelable::run`](crate::Cancelable::run), this does not return before the operations
    /// under the root have ended; unlike it, it waits for them, within the budget.
    ///
    /// # Panics
    ///
    /// When called a second time (the root runs once), or if `body` panics.
    ///
    /// # Cancellation safety
    ///
    /// Dropping the returned future drops the body and stops listening for the signals; the
    /// root's children keep running, cancelled if the root was.
    pub async fn run<F: Future>(&self, body: F) -> ShutdownReport {
        let futures = std::mem::take(&mut *self.on.lock().unwrap_or_else(|p| p.into_inner()));
        let mut watch = Watch::new(
            &self.shared.requests,
            futures,
            #[cfg(all(unix, feature = "signal"))]
            &self.config.signals,
        );
        let mut service = pin!(self.root.run(body));
        let mut body_done = false;

        let first = poll_fn(|cx| {
            if !body_done && service.as_mut().poll(cx).is_ready() {
                body_done = true;
                return Poll::Ready(None);
            }
            watch.poll_fired(cx).map(Some)
        })
        .await;
        let triggered_at = Instant::now();
        let (trigger, cause) = match first {
            Some(fired) => (fired.trigger, fired.error),
            None => (
                super::Trigger::BodyEnded,
                CancellationError::new(CancellationReason::Manual)
                    .with_message("the service body ended"),
            ),
        };
        self.enter(ShutdownPhase::Draining);
        self.shared.draining.cancel();
        tracing::info!(trigger = %trigger, "shutdown: draining");

        let forcing_at = triggered_at.checked_add(self.config.grace);
        let cancelling_at = triggered_at.checked_add(self.config.drain);
        let mut phases = PhaseTimes::default();
        let mut escalated = false;

        let mut ended = self
            .wait_phase(
                cancelling_at,
                false,
                &mut watch,
                service.as_mut(),
                &mut body_done,
            )
            .await;
        if matches!(ended, Ended::Deadline) {
            phases.cancelling = Some(triggered_at.elapsed());
            self.enter(ShutdownPhase::Cancelling);
            tracing::info!(
                running = self.root.running_children(),
                "shutdown: cancelling"
            );
            // Invariant 2: cancelled first, then closed.
            self.root.cancel_scope(cause.clone());
            self.root.close_admission();
            ended = self
                .wait_phase(
                    forcing_at,
                    true,
                    &mut watch,
                    service.as_mut(),
                    &mut body_done,
                )
                .await;
        }
        if !matches!(ended, Ended::Idle) {
            let force = match &ended {
                Ended::Escalated(fired) => {
                    escalated = true;
                    CancellationError::new(CancellationReason::Timeout)
                        .with_message(format!("forced by a second trigger ({})", fired.trigger))
                }
                _ => CancellationError::new(CancellationReason::Timeout).with_message(format!(
                    "grace period of {} elapsed",
                    DisplayDuration(self.config.grace)
                )),
            };
            phases.forcing = Some(triggered_at.elapsed());
            self.enter(ShutdownPhase::Forcing);
            tracing::warn!(running = self.root.running_children(), "shutdown: forcing");
            // Skipped straight here: what is forced was cancelled by the trigger first.
            self.root.cancel_scope(cause);
            self.root.close_admission();
            self.shared.supervisor.force_token().cancel_error(force);
            let sweep_until = Instant::now().checked_add(self.config.sweep);
            self.wait_phase(
                sweep_until,
                true,
                &mut watch,
                service.as_mut(),
                &mut body_done,
            )
            .await;
        }
        drop(watch); // invariant 3: the signals' previous dispositions are back
        phases.done = triggered_at.elapsed();
        let report = self.report(trigger, phases, escalated);
        self.enter(ShutdownPhase::Done);
        tracing::info!(exit_code = report.exit_code(), "shutdown: done");
        report
    }

    /// Polls the body and the triggers until `until`, until everything ended (when `idle`
    /// counts), or until a trigger escalates.
    async fn wait_phase<F: Future>(
        &self,
        until: Option<Instant>,
        idle: bool,
        watch: &mut Watch<'_>,
        mut service: Pin<&mut crate::Run<'_, F>>,
        body_done: &mut bool,
    ) -> Ended {
        let mut deadline = pin!(until.map(tokio::time::sleep_until));
        let mut children = Box::pin(self.root.wait_children());
        poll_fn(|cx| {
            if !*body_done && service.as_mut().poll(cx).is_ready() {
                *body_done = true;
            }
            if idle && *body_done && children.as_mut().poll(cx).is_ready() {
                return Poll::Ready(Ended::Idle);
            }
            while let Poll::Ready(fired) = watch.poll_fired(cx) {
                if let Some(ended) = self.escalate(watch, fired) {
                    return Poll::Ready(ended);
                }
            }
            match deadline.as_mut().as_pin_mut().map(|s| poll_sleep(s, cx)) {
                Some(Poll::Ready(())) => Poll::Ready(Ended::Deadline),
                _ => Poll::Pending,
            }
        })
        .await
    }

    /// Handles a trigger after the first: `Some` when it ends the phase.
    fn escalate(&self, watch: &mut Watch<'_>, fired: Fired) -> Option<Ended> {
        let forcing = self.phase() >= ShutdownPhase::Forcing;
        tracing::warn!(trigger = %fired.trigger, phase = %self.phase(), "shutdown: triggered again");
        match self.config.escalation {
            Escalation::Ignore => None,
            Escalation::Force if !forcing => Some(Ended::Escalated(fired)),
            Escalation::Exit | Escalation::Force => {
                #[cfg(all(unix, feature = "signal"))]
                watch.reraise(&fired);
                #[cfg(not(all(unix, feature = "signal")))]
                let _ = watch;
                (!forcing).then_some(Ended::Escalated(fired))
            }
        }
    }

    fn report(
        &self,
        trigger: super::Trigger,
        phases: PhaseTimes,
        escalated: bool,
    ) -> ShutdownReport {
        let now = Instant::now();
        let mut leftovers = Vec::new();
        let mut records = self.shared.supervisor.records();
        for forced in records.forced.drain(..) {
            leftovers.push(Leftover {
                id: forced.id,
                name: forced.name,
                path: forced.path,
                status: OperationStatus::Cancelled,
                error: chain(&forced.error),
                elapsed: forced.started_at.map_or(Duration::ZERO, |at| {
                    forced.forced_at.saturating_duration_since(at)
                }),
                last_progress: forced.last_progress,
                in_shield: forced.in_shield,
                kind: if forced.spawned {
                    LeftoverKind::Task
                } else {
                    LeftoverKind::Inline
                },
                leaked: false,
            });
        }
        let mut leaked = 0;
        for (_, blocking) in records.blocking.iter() {
            leaked += 1;
            leftovers.push(Leftover {
                id: blocking.id.clone(),
                name: blocking.name.clone(),
                path: blocking.path.clone(),
                status: OperationStatus::Running,
                error: blocking
                    .token
                    .cancellation()
                    .as_ref()
                    .map(chain)
                    .unwrap_or_default(),
                elapsed: now.saturating_duration_since(blocking.started_at),
                last_progress: blocking.last_progress.clone(),
                in_shield: false,
                kind: LeftoverKind::Blocking,
                leaked: true,
            });
        }
        drop(records);
        // Each leaked closure keeps one subtree of the root running; the rest are unnamed.
        let unfinished = self.root.running_children().saturating_sub(leaked);
        ShutdownReport::new(
            trigger,
            phases,
            escalated,
            self.config.escalation,
            leftovers,
            unfinished,
        )
    }
}

fn poll_sleep(sleep: Pin<&mut Sleep>, cx: &mut Context<'_>) -> Poll<()> {
    sleep.poll(cx)
}
