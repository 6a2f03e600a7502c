//! OS signals as a source of cancellation, on Unix.
//!
//! A server-like loop runs until `SIGTERM` or `SIGINT`. To finish by itself, this example
//! signals its own process:
//!
//! 1. the operation listens for `SIGINT`/`SIGTERM`; the process sends itself `SIGTERM` while a
//!    request is in flight; that request (shielded) is answered, then the operation stops with
//!    reason `Signal` and a message naming the signal;
//! 2. two operations listen for `SIGUSR1` at once: one delivery reaches both (one process-wide
//!    listener, shared);
//! 3. the attribute form `#[cancelable(signal = "SIGUSR2")]`.
//!
//! When the last listening operation ends, the signal's previous disposition is back: a
//! program that no longer listens for `SIGINT` dies on Ctrl+C again.
//!
//! Run it with `cargo run --example signal_handling` (under a second).

#[cfg(unix)]
mod unix {
    use std::time::Duration;

    use cancelable::{Cancelable, CancellationError, Signal, cancelable};
    use signal_hook::low_level::raise;
    use tokio::time::sleep;

    /// Sends `signal` to this very process.
    fn send_to_self(signal: Signal) {
        println!("   (sending {signal} to ourselves)");
        raise(signal.number()).expect("raise a signal");
    }

    #[cancelable(signal = "SIGUSR2", name = "reload_watcher")]
    async fn reload_watcher() {
        sleep(Duration::from_millis(30)).await;
        send_to_self(Signal::Usr2);
        std::future::pending::<()>().await
    }

    pub(crate) async fn main() {
        // 1. Each request is shielded: the one in flight when SIGTERM arrives completes.
        let server = Cancelable::with_signal([Signal::Int, Signal::Term]).named("server");
        let outcome = server
            .run(async {
                for request in 1.. {
                    sleep(Duration::from_millis(25)).await; // the next request arrives
                    server
                        .shield(async {
                            println!("1. handling request {request} (shielded)");
                            if request == 3 {
                                send_to_self(Signal::Term);
                            }
                            sleep(Duration::from_millis(40)).await;
                            println!("1. request {request} answered");
                        })
                        .await;
                }
            })
            .await;
        let err = outcome.unwrap_err();
        println!("1. {err} [reason {}]", err.reason());
        println!("1. closing the listener and flushing logs, then exiting cleanly");

        // 2.
        let a = Cancelable::with_signal([Signal::Usr1]).named("worker_a");
        let b = Cancelable::with_signal([Signal::Usr1]).named("worker_b");
        let (ra, rb) = tokio::join!(
            a.run(std::future::pending::<()>()),
            b.run(async {
                sleep(Duration::from_millis(30)).await;
                send_to_self(Signal::Usr1);
                std::future::pending::<()>().await
            }),
        );
        println!("2. {}\n2. {}", ra.unwrap_err(), rb.unwrap_err());

        // 3.
        let outcome: Result<(), CancellationError> = reload_watcher().await;
        println!("3. {}", outcome.unwrap_err());
    }
}

#[tokio::main]
async fn main() {
    #[cfg(unix)]
    unix::main().await;
    #[cfg(not(unix))]
    println!("signal sources are Unix-only");
}
