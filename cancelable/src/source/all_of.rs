//! The members of an all-of ([`Cancelable::all_of`](crate::Cancelable::all_of)): each fires
//! once, when its token is cancelled or one of its own sources fires, and the composite fires
//! when every member has.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::time::{Instant, Sleep};

use super::{Armed, Expiry, Sources};
use crate::error::{CancellationError, CancellationReason};
use crate::token::{CancellationToken, Cancelled};

/// Every member fired: the last one's reason, a message naming all, in member order.
pub(super) fn all_fired(members: &[AllOfMember]) -> CancellationError {
    let mut last: Option<&AllOfMember> = None;
    let mut parts = Vec::with_capacity(members.len());
    for member in members {
        if let Some(error) = &member.fired {
            parts.push(
                error
                    .message()
                    .map_or_else(|| error.reason().to_string(), str::to_owned),
            );
            if last.is_none_or(|l| member.order > l.order) {
                last = Some(member);
            }
        }
    }
    let reason = last
        .and_then(|m| m.fired.as_ref())
        .map_or(CancellationReason::Manual, CancellationError::reason);
    CancellationError::new(reason).with_message(format!("all of: {}", parts.join("; ")))
}

/// One member of an all-of: fires when its token is cancelled or any of its sources fires.
pub(super) struct AllOfMember {
    wait: Cancelled,
    token: CancellationToken,
    sleep: Option<(Pin<Box<Sleep>>, Expiry)>,
    armed: Option<Box<Armed>>,
    pub(super) fired: Option<CancellationError>,
    order: u64,
}

impl AllOfMember {
    pub(super) fn arm(token: CancellationToken, sources: Sources) -> std::io::Result<AllOfMember> {
        let (deadline, armed) = sources.arm(Instant::now())?;
        let sleep = deadline.map(|d| (Box::pin(tokio::time::sleep_until(d.at)), d.kind));
        Ok(AllOfMember {
            wait: token.cancelled(),
            token,
            sleep,
            armed,
            fired: None,
            order: 0,
        })
    }

    pub(super) fn poll(&mut self, cx: &mut Context<'_>) -> Poll<CancellationError> {
        let error = if Pin::new(&mut self.wait).poll(cx).is_ready() {
            self.token.cancellation()
        } else if let Some((sleep, deadline)) = &mut self.sleep
            && sleep.as_mut().poll(cx).is_ready()
        {
            Some(deadline.to_error())
        } else if let Some(armed) = &mut self.armed
            && let Poll::Ready(error) = armed.poll_pollers(cx)
        {
            Some(error)
        } else {
            None
        };
        match error {
            Some(error) => {
                self.order = next_order();
                Poll::Ready(error)
            }
            None => Poll::Pending,
        }
    }
}

/// A global sequence number: which all-of member fired last.
fn next_order() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static ORDER: AtomicU64 = AtomicU64::new(1);
    ORDER.fetch_add(1, Ordering::Relaxed)
}
