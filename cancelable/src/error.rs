//! Why an operation was cancelled: [`CancellationReason`] and [`CancellationError`].
//!
//! A `CancellationError` is a cheap handle (one `Arc`): cloning it, storing it in a token and
//! handing it to every waiter costs no copy of its message.

use std::borrow::Cow;
use std::fmt;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::Signal;
use crate::id::OperationId;

/// The kind of source that cancelled an operation.
///
/// # Examples
///
/// ```
/// use cancelable::CancellationReason;
///
/// assert_eq!(CancellationReason::Timeout.to_string(), "timeout");
/// assert_eq!(serde_json::to_string(&CancellationReason::Parent).unwrap(), "\"parent\"");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum CancellationReason {
    /// A timeout or deadline expired.
    Timeout,
    /// Someone called `cancel` on a token or an operation.
    Manual,
    /// The process received an OS signal.
    Signal,
    /// A polled condition was met (or a resource limit crossed).
    Condition,
    /// An enclosing operation was cancelled; [`CancellationError::cause`] says why.
    Parent,
    /// The client went away (web integration).
    Disconnect,
    /// The operation's future was dropped before it finished: by an enclosing `select!` or
    /// `tokio::time::timeout`, an aborted task, or a caller that stopped waiting. Nobody called
    /// `cancel`; the scope is cancelled so that its children stop too.
    Dropped,
}

impl CancellationReason {
    /// The lower-case name, as in `Display` and serde.
    pub const fn as_str(self) -> &'static str {
        match self {
            CancellationReason::Timeout => "timeout",
            CancellationReason::Manual => "manual",
            CancellationReason::Signal => "signal",
            CancellationReason::Condition => "condition",
            CancellationReason::Parent => "parent",
            CancellationReason::Disconnect => "disconnect",
            CancellationReason::Dropped => "dropped",
        }
    }
}

impl fmt::Display for CancellationReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An operation was cancelled: the reason, an optional message, the operation it hit and,
/// for [`CancellationReason::Parent`], the parent's own cancellation as its cause.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use cancelable::{Cancelable, CancellationReason};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
/// let op = Cancelable::with_timeout(Duration::from_secs(30)).named("fetch_user");
/// let err = op.run(std::future::pending::<()>()).await.unwrap_err();
/// assert_eq!(err.reason(), CancellationReason::Timeout);
/// assert!(err.is_timeout());
/// assert_eq!(err.to_string(), r#"operation "fetch_user" cancelled: timeout after 30s"#);
///
/// let io: std::io::Error = err.into();
/// assert_eq!(io.kind(), std::io::ErrorKind::TimedOut);
/// # }
/// ```
#[derive(Clone)]
pub struct CancellationError {
    inner: Arc<ErrorInner>,
}

#[derive(Clone)]
struct ErrorInner {
    reason: CancellationReason,
    message: Option<Text>,
    operation_id: Option<OperationId>,
    operation_name: Option<Text>,
    cause: Option<CancellationError>,
    /// The signal that was received, for a cancellation made by a signal delivery.
    signal: Option<Signal>,
}

/// A message or a name that clones without copying: a `'static` string, or one shared by every
/// copy of the error (a registry that cancels a thousand operations with one message keeps one
/// copy of it).
#[derive(Clone)]
enum Text {
    Static(&'static str),
    Shared(Arc<str>),
}

impl From<Cow<'static, str>> for Text {
    fn from(text: Cow<'static, str>) -> Self {
        match text {
            Cow::Borrowed(text) => Text::Static(text),
            Cow::Owned(text) => Text::Shared(text.into()),
        }
    }
}

impl Text {
    /// `text` without copying a `'static` string, with one allocation for another. Takes the
    /// `Cow` itself to tell the two apart.
    #[allow(clippy::ptr_arg)]
    fn copied(text: &Cow<'static, str>) -> Self {
        match text {
            Cow::Borrowed(text) => Text::Static(text),
            Cow::Owned(text) => Text::Shared(Arc::from(text.as_str())),
        }
    }
}

impl std::ops::Deref for Text {
    type Target = str;

    fn deref(&self) -> &str {
        match self {
            Text::Static(text) => text,
            Text::Shared(text) => text,
        }
    }
}

impl Drop for ErrorInner {
    /// Drops a long chain of causes iteratively.
    fn drop(&mut self) {
        let mut next = self.cause.take();
        while let Some(cause) = next {
            next = Arc::into_inner(cause.inner).and_then(|mut inner| inner.cause.take());
        }
    }
}

impl CancellationError {
    /// A cancellation for `reason`, with no message yet (see
    /// [`with_message`](Self::with_message)).
    ///
    /// ```
    /// use cancelable::{CancellationError, CancellationReason};
    ///
    /// let err = CancellationError::new(CancellationReason::Manual).with_message("deploy");
    /// assert_eq!(err.reason(), CancellationReason::Manual);
    /// assert_eq!(err.message(), Some("deploy"));
    /// assert_eq!(err.to_string(), "operation cancelled: deploy");
    /// ```
    pub fn new(reason: CancellationReason) -> Self {
        CancellationError {
            inner: Arc::new(ErrorInner {
                reason,
                message: None,
                operation_id: None,
                operation_name: None,
                cause: None,
                signal: None,
            }),
        }
    }

    /// The same cancellation with `message`; a `&'static str` is kept without a copy.
    ///
    /// ```
    /// use cancelable::{CancellationError, CancellationReason};
    ///
    /// let quota = 90;
    /// let err = CancellationError::new(CancellationReason::Condition)
    ///     .with_message(format!("quota used: {quota}%"));
    /// assert_eq!(err.message(), Some("quota used: 90%"));
    /// ```
    pub fn with_message(mut self, message: impl Into<Cow<'static, str>>) -> Self {
        Arc::make_mut(&mut self.inner).message = Some(Text::from(message.into()));
        self
    }

    /// The cancellation a delivery of `signal` makes: reason `Signal`, message
    /// `received signal SIGTERM`, and [`signal`](Self::signal) set.
    #[cfg(all(unix, feature = "signal"))]
    pub(crate) fn received(signal: Signal) -> Self {
        let mut error = CancellationError::new(CancellationReason::Signal)
            .with_message(format!("received signal {}", signal.name()));
        if let Some(inner) = Arc::get_mut(&mut error.inner) {
            inner.signal = Some(signal);
        }
        error
    }

    /// A [`CancellationReason::Parent`] cancellation caused by `parent`.
    pub(crate) fn from_parent(parent: &CancellationError) -> Self {
        CancellationError {
            inner: Arc::new(ErrorInner {
                reason: CancellationReason::Parent,
                message: Some(Text::Static("parent operation cancelled")),
                operation_id: None,
                operation_name: None,
                cause: Some(parent.clone()),
                signal: None,
            }),
        }
    }

    /// The same cancellation, caused by `cause` (a forcing error caused by the cancellation it
    /// cut short).
    pub(crate) fn caused_by(&self, cause: CancellationError) -> Self {
        let mut inner = (*self.inner).clone();
        inner.cause = Some(cause);
        CancellationError {
            inner: Arc::new(inner),
        }
    }

    /// A timeout that expired after `after`.
    pub(crate) fn timeout(after: Duration) -> Self {
        CancellationError::new(CancellationReason::Timeout)
            .with_message(format!("timeout after {}", DisplayDuration(after)))
    }

    /// The same cancellation, attributed to an operation.
    /// Takes the `Cow` itself: a `'static` name stays borrowed in the copy.
    #[allow(clippy::ptr_arg)]
    pub(crate) fn for_operation(&self, id: &OperationId, name: &Cow<'static, str>) -> Self {
        if self
            .inner
            .operation_id
            .as_ref()
            .is_some_and(|mine| mine.is(id))
        {
            return self.clone();
        }
        let mut inner = (*self.inner).clone();
        inner.operation_id = Some(id.clone());
        inner.operation_name = (!name.is_empty()).then(|| Text::copied(name));
        CancellationError {
            inner: Arc::new(inner),
        }
    }

    /// The kind of source that cancelled.
    pub fn reason(&self) -> CancellationReason {
        self.inner.reason
    }

    /// What the source said, e.g. `timeout after 30s` or `received signal SIGTERM`.
    pub fn message(&self) -> Option<&str> {
        self.inner.message.as_deref()
    }

    /// The id of the operation that was cancelled, when known.
    pub fn operation_id(&self) -> Option<&str> {
        self.inner.operation_id.as_ref().map(OperationId::as_str)
    }

    /// The name of the operation that was cancelled, when it has one.
    pub fn operation_name(&self) -> Option<&str> {
        self.inner.operation_name.as_deref()
    }

    /// For [`CancellationReason::Parent`]: the parent's own cancellation.
    /// [`std::error::Error::source`] returns the same.
    pub fn cause(&self) -> Option<&CancellationError> {
        self.inner.cause.as_ref()
    }

    /// The signal whose delivery caused this cancellation, here or at its
    /// [root cause](Self::root_cause): what a program that exits `128 + n` on a signal needs.
    /// `None` for any other cancellation, including one made by hand with reason `Signal`.
    ///
    /// ```rust,standalone_crate
    /// # #[cfg(unix)] {
    /// use cancelable::{Cancelable, Signal};
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let op = Cancelable::with_signal([Signal::Usr1]);
    /// let result = op
    ///     .run(async {
    ///         // Stands in for `kill -USR1 <pid>`.
    ///         signal_hook::low_level::raise(signal_hook::consts::SIGUSR1).unwrap();
    ///         std::future::pending::<()>().await
    ///     })
    ///     .await;
    /// let err = result.unwrap_err();
    /// assert_eq!(err.signal(), Some(Signal::Usr1));
    /// let exit_code = 128 + err.signal().unwrap().number(); // what a shell reports: 138
    /// # assert_eq!(exit_code, 138);
    /// # });
    /// # }
    /// ```
    pub fn signal(&self) -> Option<Signal> {
        self.root_cause().inner.signal
    }

    /// The first cancellation in the chain of causes: what really happened.
    pub fn root_cause(&self) -> &CancellationError {
        let mut err = self;
        while let Some(cause) = err.cause() {
            err = cause;
        }
        err
    }

    /// `reason() == Timeout`.
    pub fn is_timeout(&self) -> bool {
        self.reason() == CancellationReason::Timeout
    }

    /// `reason() == Manual`.
    pub fn is_manual(&self) -> bool {
        self.reason() == CancellationReason::Manual
    }

    /// `reason() == Signal`.
    pub fn is_signal(&self) -> bool {
        self.reason() == CancellationReason::Signal
    }

    /// `reason() == Condition`.
    pub fn is_condition(&self) -> bool {
        self.reason() == CancellationReason::Condition
    }

    /// `reason() == Parent`.
    pub fn is_parent(&self) -> bool {
        self.reason() == CancellationReason::Parent
    }

    /// `reason() == Disconnect`.
    pub fn is_disconnect(&self) -> bool {
        self.reason() == CancellationReason::Disconnect
    }

    /// `reason() == Dropped`.
    pub fn is_dropped(&self) -> bool {
        self.reason() == CancellationReason::Dropped
    }
}

impl fmt::Display for CancellationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.operation_name() {
            Some(name) => write!(f, "operation {name:?} cancelled: ")?,
            None => f.write_str("operation cancelled: ")?,
        }
        match self.message() {
            Some(message) => f.write_str(message),
            None => fmt::Display::fmt(&self.reason(), f),
        }
    }
}

impl fmt::Debug for CancellationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct("CancellationError");
        s.field("reason", &self.reason());
        if let Some(message) = self.message() {
            s.field("message", &message);
        }
        if let Some(id) = self.operation_id() {
            s.field("operation_id", &id);
        }
        if let Some(name) = self.operation_name() {
            s.field("operation_name", &name);
        }
        if let Some(cause) = self.cause() {
            s.field("cause", cause);
        }
        s.finish()
    }
}

impl PartialEq for CancellationError {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
            || (self.reason() == other.reason()
                && self.message() == other.message()
                && self.operation_id() == other.operation_id()
                && self.cause() == other.cause())
    }
}

impl Eq for CancellationError {}

impl std::error::Error for CancellationError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.cause().map(|cause| cause as _)
    }
}

impl From<CancellationError> for io::Error {
    /// [`io::ErrorKind::TimedOut`] for timeouts, [`io::ErrorKind::Interrupted`] otherwise.
    fn from(err: CancellationError) -> Self {
        let kind = if err.is_timeout() {
            io::ErrorKind::TimedOut
        } else {
            io::ErrorKind::Interrupted
        };
        io::Error::new(kind, err)
    }
}

/// Formats a duration the way the macros accept it: `500ms`, `30s`, `1m30s`, `2h`.
pub(crate) struct DisplayDuration(pub(crate) Duration);

impl fmt::Display for DisplayDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.0;
        if d.subsec_nanos() != 0 || d.is_zero() {
            return if d < Duration::from_secs(1) && d.subsec_nanos().is_multiple_of(1_000_000) {
                write!(f, "{}ms", d.as_millis())
            } else {
                write!(f, "{d:?}")
            };
        }
        let secs = d.as_secs();
        let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
        if h > 0 {
            write!(f, "{h}h")?;
        }
        if m > 0 {
            write!(f, "{m}m")?;
        }
        if s > 0 {
            write!(f, "{s}s")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_the_macro_syntax() {
        let cases = [
            (Duration::from_millis(500), "500ms"),
            (Duration::from_secs(30), "30s"),
            (Duration::from_secs(90), "1m30s"),
            (Duration::from_secs(7200), "2h"),
            (Duration::ZERO, "0ms"),
            (Duration::from_millis(1500), "1.5s"),
        ];
        for (d, text) in cases {
            assert_eq!(DisplayDuration(d).to_string(), text);
        }
    }
}
