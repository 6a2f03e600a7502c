//! [`ShutdownReport`]: what a shutdown did, and what did not finish and why.

use std::fmt;
use std::time::Duration;

use serde::{Serialize, Serializer};

use super::Escalation;
use crate::error::{CancellationError, DisplayDuration};
use crate::status::OperationStatus;

/// What started a shutdown.
///
/// ```
/// use cancelable::shutdown::Trigger;
///
/// let manual = Trigger::Manual("deploy".into());
/// assert_eq!(manual.to_string(), "shutdown requested: deploy");
/// assert_eq!(serde_json::to_value(&manual).unwrap()["manual"], "deploy");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Trigger {
    /// The process received a signal.
    Signal(crate::Signal),
    /// [`Shutdown::trigger`](super::Shutdown::trigger), with its message.
    Manual(String),
    /// A future given to [`ShutdownBuilder::on`](super::ShutdownBuilder::on) completed.
    Future,
    /// The service body ended by itself, before any trigger.
    BodyEnded,
}

impl fmt::Display for Trigger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Trigger::Signal(signal) => write!(f, "received signal {signal}"),
            Trigger::Manual(message) => write!(f, "shutdown requested: {message}"),
            Trigger::Future => f.write_str("shutdown requested"),
            Trigger::BodyEnded => f.write_str("the service body ended"),
        }
    }
}

/// When each phase began, counted from the trigger (Draining begins at zero).
///
/// Serialized as seconds (a float), like every duration of the report.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct PhaseTimes {
    /// Cancelling began (absent if the shutdown went from Draining straight to Forcing).
    #[serde(serialize_with = "seconds_opt")]
    pub cancelling: Option<Duration>,
    /// Forcing began (absent if everything ended in time).
    #[serde(serialize_with = "seconds_opt")]
    pub forcing: Option<Duration>,
    /// Done.
    #[serde(serialize_with = "seconds")]
    pub done: Duration,
}

/// How a leftover was running.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum LeftoverKind {
    /// The body of a task started with [`Cancelable::spawn`](crate::Cancelable::spawn).
    Task,
    /// A `run` awaited inside another future (a nested operation, the service body, an
    /// operation run in a task of its own making).
    Inline,
    /// A closure of [`Cancelable::spawn_blocking`](crate::Cancelable::spawn_blocking).
    Blocking,
}

impl fmt::Display for LeftoverKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LeftoverKind::Task => "task",
            LeftoverKind::Inline => "inline",
            LeftoverKind::Blocking => "blocking",
        })
    }
}

/// An operation that had to be forced, or blocking work that was still running when the
/// shutdown ended (leaked: nothing can stop a thread that ignores its token).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Leftover {
    /// The operation's id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// The names of its ancestors, outermost (the root) first.
    pub path: Vec<String>,
    /// Its status when the report was made (`Cancelled` once forced; a blocking closure's
    /// is `Running`).
    pub status: OperationStatus,
    /// The error it ended with and its causes, outermost first, each as `reason: message`
    /// (a leaked closure: its token's cancellation).
    pub error: Vec<String>,
    /// From its start to its forcing (or to the report, for a leaked closure).
    #[serde(serialize_with = "seconds")]
    pub elapsed: Duration,
    /// The last progress message it reported.
    pub last_progress: Option<String>,
    /// It was in a shield when it was forced.
    pub in_shield: bool,
    /// How it ran.
    pub kind: LeftoverKind,
    /// Still running when the report was made: a blocking closure that ignores its token.
    pub leaked: bool,
}

impl Leftover {
    /// Leaked first, then forced in a shield, then the longest running.
    fn rank(&self) -> (bool, bool, Duration) {
        (!self.leaked, !self.in_shield, Duration::MAX - self.elapsed)
    }
}

impl fmt::Display for Leftover {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = if self.leaked { "leaked" } else { "forced" };
        write!(f, "{state} {} {:?}", self.kind, self.name)?;
        if !self.path.is_empty() {
            write!(f, " under {}", self.path.join("/"))?;
        }
        let elapsed = DisplayDuration(round_ms(self.elapsed));
        match (self.leaked, self.in_shield) {
            (true, _) => write!(f, ": still running after {elapsed}, ignores its token")?,
            (false, true) => write!(f, ": in a shield after {elapsed}")?,
            (false, false) => write!(f, ": after {elapsed}")?,
        }
        if !self.error.is_empty() {
            write!(f, "; {}", self.error.join(" <- "))?;
        }
        if let Some(progress) = &self.last_progress {
            write!(f, "; last progress {progress:?}")?;
        }
        write!(f, " (id {})", self.id)
    }
}

/// What a shutdown did: made by [`Shutdown::run`](super::Shutdown::run).
///
/// Its `Display` is what an operator reads in a log: one line of summary, the phase instants,
/// then one line per leftover, the most important first (leaked blocking work, then operations
/// forced in a shield, then the longest running).
///
/// ```
/// use std::time::Duration;
/// use cancelable::shutdown::Shutdown;
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
/// let shutdown = Shutdown::builder().grace(Duration::from_secs(2)).build();
/// let root = shutdown.root().clone();
/// let export = cancelable::Cancelable::new().named("export").parent(&root);
/// tokio::spawn(async move {
///     export.run(async {
///         Cancelable::current().unwrap().report_progress("part 3 of 5");
///         let op = Cancelable::current().unwrap();
///         op.shield(std::future::pending::<()>()).await // cleanup that never ends
///     }).await
/// });
/// # use cancelable::Cancelable;
/// tokio::task::yield_now().await; // the export is in its shield
/// shutdown.trigger("deploy");
/// let report = shutdown.run(std::future::pending::<()>()).await;
/// assert_eq!(report.exit_code(), 1);
/// let export = &report.leftovers[0];
/// assert_eq!((export.name.as_str(), export.in_shield), ("export", true));
/// assert_eq!(export.last_progress.as_deref(), Some("part 3 of 5"));
/// assert_eq!(export.elapsed, Duration::from_secs(2));
/// assert_eq!(report.leftovers[1].name, "service"); // the body, which never returned
/// println!("{report}");
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Serialize)]
#[non_exhaustive]
pub struct ShutdownReport {
    /// What started it.
    pub trigger: Trigger,
    /// When each phase began.
    pub phases: PhaseTimes,
    /// A second trigger skipped to forcing.
    pub escalated: bool,
    /// The escalation policy in force.
    pub escalation: Escalation,
    /// The operations forced and the blocking work leaked, most important first.
    pub leftovers: Vec<Leftover>,
    /// Subtrees under the root still running at the end that the report could not name: their
    /// task blocks inside a poll, so no forcing reaches them (leaked closures are counted in
    /// `leftovers` instead).
    pub unfinished: usize,
}

impl ShutdownReport {
    pub(super) fn new(
        trigger: Trigger,
        phases: PhaseTimes,
        escalated: bool,
        escalation: Escalation,
        mut leftovers: Vec<Leftover>,
        unfinished: usize,
    ) -> ShutdownReport {
        leftovers.sort_by_key(Leftover::rank);
        ShutdownReport {
            trigger,
            phases,
            escalated,
            escalation,
            leftovers,
            unfinished,
        }
    }

    /// The process exit code this shutdown deserves: 0 when everything ended when it was asked
    /// to, 1 when something had to be forced, leaked, or could not be reached.
    ///
    /// ```no_run
    /// # async fn serve(_: &cancelable::Cancelable) {}
    /// # #[tokio::main] async fn main() {
    /// let shutdown = cancelable::shutdown::Shutdown::builder().build();
    /// let report = shutdown.run(serve(shutdown.root())).await;
    /// eprintln!("{report}");
    /// std::process::exit(report.exit_code());
    /// # }
    /// ```
    pub fn exit_code(&self) -> i32 {
        i32::from(!self.leftovers.is_empty() || self.unfinished > 0)
    }

    /// Operations forced.
    pub fn forced(&self) -> usize {
        self.leftovers.iter().filter(|l| !l.leaked).count()
    }

    /// Blocking closures leaked.
    pub fn leaked(&self) -> usize {
        self.leftovers.iter().filter(|l| l.leaked).count()
    }
}

impl fmt::Display for ShutdownReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "shutdown ({})", self.trigger)?;
        if self.leftovers.is_empty() && self.unfinished == 0 {
            write!(f, ": everything ended in time")?;
        } else {
            write!(
                f,
                ": {} forced, {} leaked, {} unfinished",
                self.forced(),
                self.leaked(),
                self.unfinished
            )?;
        }
        if self.escalated {
            write!(f, ", escalated")?;
        }
        writeln!(f, "; exit code {}", self.exit_code())?;
        write!(f, "  phases: draining +0ms")?;
        if let Some(at) = self.phases.cancelling {
            write!(f, ", cancelling +{}", DisplayDuration(round_ms(at)))?;
        }
        if let Some(at) = self.phases.forcing {
            write!(f, ", forcing +{}", DisplayDuration(round_ms(at)))?;
        }
        write!(f, ", done +{}", DisplayDuration(round_ms(self.phases.done)))?;
        for leftover in &self.leftovers {
            write!(f, "\n  {leftover}")?;
        }
        Ok(())
    }
}

/// A cancellation and its causes, outermost first, each as `reason: message`.
pub(super) fn chain(error: &CancellationError) -> Vec<String> {
    let mut chain = Vec::new();
    let mut next = Some(error);
    while let Some(error) = next {
        chain.push(match error.message() {
            Some(message) => format!("{}: {message}", error.reason()),
            None => error.reason().to_string(),
        });
        next = error.cause();
    }
    chain
}

fn round_ms(d: Duration) -> Duration {
    Duration::from_millis(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn seconds<S: Serializer>(d: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_f64(d.as_secs_f64())
}

fn seconds_opt<S: Serializer>(d: &Option<Duration>, serializer: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => serializer.serialize_some(&d.as_secs_f64()),
        None => serializer.serialize_none(),
    }
}
