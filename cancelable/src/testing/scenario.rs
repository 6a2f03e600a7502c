//! [`Scenario`]: a scripted test of one operation — delays, cancels and expectations, played
//! on tokio's clock against the running body.
//!
//! # Invariants
//!
//! 1. The script and the body run in one task, polled together; a delay is a
//!    `tokio::time::sleep`, so a paused runtime auto-advances to it and times are exact. When a
//!    step and the operation's end fall on the same instant, the operation is polled first.
//! 2. Actions (`delay`, `cancel`) run only while the operation runs: an action reached after
//!    it ended never ran, and the scenario panics naming it. A delay that was under way when the
//!    operation ended counts as run.
//! 3. Expectations (`expect_progress`, `expect_status`) also hold after the end, against what
//!    was recorded. `expect_progress` waits (while the operation runs) for its report;
//!    `expect_status` first gives the operation one poll, so a cancel just made has landed.
//! 4. The body's outcome is returned as it came: a cancellation is `Err` and the status is
//!    `Cancelled`. Nothing is caught inside the operation.

use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::pin::pin;
use std::task::Poll;
use std::time::Duration;

use futures_util::future::{Either, select};

use super::event::ProgressMessage;
use super::mock_token::MockCancellationToken;
use super::recorder::OperationRecorder;
use crate::error::{CancellationError, CancellationReason};
use crate::operation::Cancelable;
use crate::status::OperationStatus;

/// A scripted test of one operation: chain delays, cancels and expectations, then
/// [`run`](Self::run) a body against the script on tokio's clock.
///
/// The steps run one after another from the start of the run: a delay counts from the end of
/// the step before it (an `expect_progress` ends when its report comes).
///
/// The operation is cancelled through a [`MockCancellationToken`] and recorded by an
/// [`OperationRecorder`]; both come back in the [`ScenarioOutcome`], with the body's result
/// untouched (a cancelled operation is `Err`, its status `Cancelled`). A step that never ran,
/// or an expectation that fails, panics with the step's number and the whole event log.
///
/// ```
/// use std::time::Duration;
/// use cancelable::{Cancelable, CancellationReason, OperationStatus};
/// use cancelable::testing::Scenario;
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
/// let secs = Duration::from_secs;
/// let outcome = Scenario::new("import")
///     .expect_progress("rows loaded")
///     .delay(secs(2))
///     .cancel(CancellationReason::Manual, "user pressed stop")
///     .expect_status(OperationStatus::Cancelled)
///     .run(async |op: &Cancelable| {
///         tokio::time::sleep(secs(1)).await;
///         op.report_progress("rows loaded");
///         tokio::time::sleep(secs(60)).await;
///     })
///     .await;
///
/// assert_eq!(outcome.result.unwrap_err().message(), Some("user pressed stop"));
/// outcome.recorder.assert_final_status("import", OperationStatus::Cancelled);
/// // The report came at 1s, the delay ran from there: the cancel was at 3s.
/// assert_eq!(outcome.token.history()[0].at, secs(3));
/// # }
/// ```
#[derive(Debug)]
#[must_use = "a scenario does nothing until it is run"]
pub struct Scenario {
    name: String,
    operation: Option<Cancelable>,
    steps: Vec<Step>,
}

#[derive(Debug)]
enum Step {
    Delay(Duration),
    Cancel {
        reason: CancellationReason,
        message: String,
    },
    ExpectProgress(String),
    ExpectStatus(OperationStatus),
}

impl fmt::Display for Step {
    /// The step as the panic messages name it: `step 2 (cancel) never ran`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Delay(d) => write!(f, "delay {d:?}"),
            Step::Cancel { .. } => f.write_str("cancel"),
            Step::ExpectProgress(message) => write!(f, "expect progress {message:?}"),
            Step::ExpectStatus(status) => write!(f, "expect status {status}"),
        }
    }
}

/// What a [`Scenario`] run leaves: the body's result, the log, the token and the operation.
#[derive(Debug)]
#[non_exhaustive]
pub struct ScenarioOutcome<T> {
    /// What `run` returned: the body's output, or the cancellation.
    pub result: Result<T, CancellationError>,
    /// Everything that happened to the operation.
    pub recorder: OperationRecorder,
    /// The token the scenario cancelled through, with its call history.
    pub token: MockCancellationToken,
    /// The operation itself (its status, context and id).
    pub operation: Cancelable,
}

impl Scenario {
    /// An empty script. The operation is `Cancelable::with_token(..)` named `name` with the
    /// operation id `name`, unless [`operation`](Self::operation) gives one.
    ///
    /// ```
    /// use cancelable::testing::Scenario;
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let outcome = Scenario::new("noop").run(async |_: &cancelable::Cancelable| 7).await;
    /// assert_eq!(outcome.result, Ok(7));
    /// assert_eq!(outcome.operation.id(), "noop");
    /// # }
    /// ```
    pub fn new(name: impl Into<String>) -> Self {
        Scenario {
            name: name.into(),
            operation: None,
            steps: Vec::new(),
        }
    }

    /// Runs the script against `op` instead: the scenario's token is combined into it
    /// ([`Cancelable::combine`], which keeps `op`'s name and id), so `op`'s own sources (a
    /// timeout, a parent) still apply beside the scripted cancels.
    ///
    /// ```
    /// use std::time::Duration;
    /// use cancelable::{Cancelable, OperationStatus};
    /// use cancelable::testing::Scenario;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
    /// let op = Cancelable::with_timeout(Duration::from_secs(1)).operation_id("fetch");
    /// let outcome = Scenario::new("timeout")
    ///     .operation(op)
    ///     .delay(Duration::from_millis(500))
    ///     .expect_status(OperationStatus::Running)
    ///     .run(async |_: &Cancelable| tokio::time::sleep(Duration::from_secs(5)).await)
    ///     .await;
    /// assert!(outcome.result.unwrap_err().is_timeout());
    /// outcome.recorder.assert_final_status("fetch", OperationStatus::Cancelled);
    /// # }
    /// ```
    pub fn operation(mut self, op: Cancelable) -> Self {
        self.operation = Some(op);
        self
    }

    /// Waits `delay` on tokio's clock (a `sleep`: a paused runtime auto-advances to it).
    ///
    /// ```
    /// use std::time::Duration;
    /// use cancelable::testing::Scenario;
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
    /// let outcome = Scenario::new("wait")
    ///     .delay(Duration::from_secs(1))
    ///     .run(async |_: &cancelable::Cancelable| tokio::time::sleep(Duration::from_secs(3)).await)
    ///     .await;
    /// assert!(outcome.result.is_ok());
    /// # }
    /// ```
    pub fn delay(mut self, delay: Duration) -> Self {
        self.steps.push(Step::Delay(delay));
        self
    }

    /// Cancels the operation with `reason` and `message`, through the scenario's token.
    ///
    /// ```
    /// use cancelable::CancellationReason;
    /// use cancelable::testing::Scenario;
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
    /// let outcome = Scenario::new("stop")
    ///     .cancel(CancellationReason::Signal, "SIGTERM")
    ///     .run(async |_: &cancelable::Cancelable| std::future::pending::<()>().await)
    ///     .await;
    /// assert!(outcome.result.unwrap_err().is_signal());
    /// # }
    /// ```
    pub fn cancel(mut self, reason: CancellationReason, message: impl Into<String>) -> Self {
        self.steps.push(Step::Cancel {
            reason,
            message: message.into(),
        });
        self
    }

    /// Expects the progress report `message`: while the operation runs, the script waits for
    /// it; once it has ended, it must have been reported.
    ///
    /// ```
    /// use cancelable::testing::Scenario;
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// Scenario::new("report")
    ///     .expect_progress("done")
    ///     .run(async |op: &cancelable::Cancelable| op.report_progress("done"))
    ///     .await;
    /// # }
    /// ```
    pub fn expect_progress(mut self, message: impl Into<String>) -> Self {
        self.steps.push(Step::ExpectProgress(message.into()));
        self
    }

    /// Expects the operation's status to be `status` at this point of the script, after one
    /// poll of the operation (so a cancel just made has landed). After the end, this is the
    /// final status.
    ///
    /// ```
    /// use cancelable::OperationStatus;
    /// use cancelable::testing::Scenario;
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// Scenario::new("quick")
    ///     .expect_status(OperationStatus::Completed)
    ///     .run(async |_: &cancelable::Cancelable| ())
    ///     .await;
    /// # }
    /// ```
    pub fn expect_status(mut self, status: OperationStatus) -> Self {
        self.steps.push(Step::ExpectStatus(status));
        self
    }

    /// Runs `body` inside the operation while playing the script, then waits for the
    /// operation to end.
    ///
    /// The body receives the operation (`&Cancelable`): report progress on it, check it, hand
    /// it on. Write it as an async closure, `async |op: &Cancelable| { … }`.
    ///
    /// # Panics
    ///
    /// * `step 2 (cancel) never ran: the operation ended (completed) at 1s` for an action
    ///   reached after the end;
    /// * `step 1 (expect progress "halfway") failed: the operation ended (completed) at 1s
    ///   without reporting it`;
    /// * `step 3 (expect status cancelled) failed: the status is running`;
    ///
    /// each with the whole event log and `(scenario "name", run at file:line:column)`. A panic
    /// in the body propagates (the operation is `Failed`).
    #[track_caller]
    pub fn run<F, T>(self, body: F) -> impl Future<Output = ScenarioOutcome<T>>
    where
        F: AsyncFnOnce(&Cancelable) -> T,
    {
        let caller = Location::caller();
        async move {
            let Scenario {
                name,
                operation,
                steps,
            } = self;
            let recorder = OperationRecorder::new();
            let token = MockCancellationToken::new();
            let op = match operation {
                Some(op) => op.combine(Cancelable::with_token(&token)),
                None => Cancelable::with_token(&token)
                    .named(name.clone())
                    .operation_id(name.clone()),
            };
            recorder.attach(&op);
            let fail = |n: usize, step: &Step, what: String| -> ! {
                panic!(
                    "step {n} ({step}) {what}\n{}\n(scenario {name:?}, run at {caller})",
                    recorder.render()
                )
            };
            let ended = |op: &Cancelable| {
                let at = recorder
                    .events_for(op.id())
                    .last()
                    .map_or(Duration::ZERO, |e| e.at);
                format!("the operation ended ({}) at {at:?}", op.status())
            };

            let result = {
                let mut run = pin!(op.run(body(&op)));
                let mut result = None;
                for (index, step) in steps.iter().enumerate() {
                    let n = index + 1;
                    match step {
                        Step::Delay(delay) => {
                            if result.is_some() {
                                fail(n, step, format!("never ran: {}", ended(&op)));
                            }
                            let sleep = pin!(tokio::time::sleep(*delay));
                            if let Either::Left((output, _)) = select(run.as_mut(), sleep).await {
                                result = Some(output);
                            }
                        }
                        Step::Cancel { reason, message } => {
                            if result.is_some() {
                                fail(n, step, format!("never ran: {}", ended(&op)));
                            }
                            token.cancel_with(*reason, message.clone());
                        }
                        Step::ExpectProgress(message) => {
                            let expected = ProgressMessage(message);
                            if result.is_none() {
                                let reported = pin!(recorder.until(op.id(), &expected));
                                if let Either::Left((output, _)) =
                                    select(run.as_mut(), reported).await
                                {
                                    result = Some(output);
                                }
                            }
                            if recorder.matching(op.id(), expected).is_empty() {
                                let what = format!("failed: {} without reporting it", ended(&op));
                                fail(n, step, what);
                            }
                        }
                        Step::ExpectStatus(status) => {
                            if result.is_none() {
                                let polled =
                                    std::future::poll_fn(|cx| match run.as_mut().poll(cx) {
                                        Poll::Ready(output) => Poll::Ready(Some(output)),
                                        Poll::Pending => Poll::Ready(None),
                                    });
                                result = polled.await;
                            }
                            let actual = op.status();
                            if actual != *status {
                                fail(n, step, format!("failed: the status is {actual}"));
                            }
                        }
                    }
                }
                match result {
                    Some(result) => result,
                    None => run.await,
                }
            };
            ScenarioOutcome {
                result,
                recorder,
                token,
                operation: op,
            }
        }
    }
}
