//! OS signals: parsing, one shared listener, delivery to every listener, and the previous
//! disposition restored when nobody listens (checked in child processes of this test binary).

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use cancelable::__private::signal_listeners;
use cancelable::{Cancelable, CancelationReason, Signal};
use signal_hook::consts::{SIGINT, SIGTERM, SIGUSR1, SIGUSR2};
use signal_hook::low_level::raise;

const CHILD_ENV: &str = "CANCELABLE_SIGNAL_CHILD";

#[test]
fn signal_names_parse_in_every_spelling() {
    for text in ["SIGTERM", "TERM", "sigterm", "term", " SigTerm "] {
        assert_eq!(text.parse::<Signal>().unwrap(), Signal::Term, "{text:?}");
    }
    for signal in Signal::ALL {
        assert_eq!(signal.name().parse::<Signal>().unwrap(), signal);
    }
    let err = "SIGTERN".parse::<Signal>().unwrap_err().to_string();
    assert_eq!(
        err,
        "unknown signal \"SIGTERN\"; expected one of SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2"
    );
    let err = "SIGKILL".parse::<Signal>().unwrap_err().to_string();
    assert!(err.starts_with("SIGKILL cannot be caught"), "{err}");
}

/// Every self-signalling case of this process runs here, one after the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_listener_per_signal_fanned_out_to_every_operation() {
    assert_eq!(signal_listeners(), 0);
    let (ready_tx, mut ready_rx) = tokio::sync::mpsc::unbounded_channel();
    let ops: Vec<_> = (0..3)
        .map(|i| {
            let ready = ready_tx.clone();
            let op = Cancelable::with_signal([Signal::Usr1, Signal::Usr2]).named(format!("op {i}"));
            tokio::spawn(async move {
                op.run(async {
                    ready.send(()).unwrap();
                    std::future::pending::<()>().await
                })
                .await
            })
        })
        .collect();
    for _ in 0..3 {
        ready_rx.recv().await.unwrap();
    }
    assert_eq!(
        signal_listeners(),
        2,
        "one per signal, shared by the three operations"
    );
    raise(SIGUSR1).unwrap();
    for op in ops {
        let err = tokio::time::timeout(Duration::from_secs(10), op)
            .await
            .unwrap()
            .unwrap()
            .unwrap_err();
        assert_eq!(err.reason(), CancelationReason::Signal);
        assert_eq!(err.message(), Some("received signal SIGUSR1"));
    }
    assert_eq!(
        signal_listeners(),
        0,
        "the last operation to end removed the listeners"
    );

    // A signal source composes like any other: a timeout that wins, then a fresh listener.
    let op = Cancelable::with_signal([Signal::Usr1])
        .combine(Cancelable::with_timeout(Duration::from_millis(10)));
    assert!(
        op.run(std::future::pending::<()>())
            .await
            .unwrap_err()
            .is_timeout()
    );
    assert_eq!(signal_listeners(), 0);

    // The attribute's `signal` option: the same listener, named in the error.
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    let waiting = tokio::spawn(wait_for_usr2(ready_tx));
    ready_rx.await.unwrap();
    assert_eq!(signal_listeners(), 2, "SIGUSR2 and SIGHUP");
    raise(SIGUSR2).unwrap();
    let err = tokio::time::timeout(Duration::from_secs(10), waiting)
        .await
        .unwrap()
        .unwrap()
        .unwrap_err();
    assert_eq!(err.reason(), CancelationReason::Signal);
    assert_eq!(err.message(), Some("received signal SIGUSR2"));
    assert_eq!(err.operation_name(), Some("wait_for_usr2"));
    assert_eq!(signal_listeners(), 0);
}

#[cancelable::cancelable(signal = ["SIGUSR2", "SIGHUP"])]
async fn wait_for_usr2(ready: tokio::sync::oneshot::Sender<()>) {
    ready.send(()).unwrap();
    std::future::pending::<()>().await
}

#[test]
fn previous_disposition_is_back_when_the_last_listener_ends() {
    for (scenario, expect_signal) in [
        ("sigint", Some(SIGINT)),
        ("sigterm", Some(SIGTERM)),
        ("user_handler", None),
    ] {
        let output = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "signals::child_process",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, scenario)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            stdout.contains("operation cancelled by the signal"),
            "{scenario}: {stdout}"
        );
        use std::os::unix::process::ExitStatusExt;
        match expect_signal {
            Some(signal) => assert_eq!(
                output.status.signal(),
                Some(signal),
                "{scenario}: the process should die of the signal once nobody listens; {stdout}"
            ),
            None => {
                assert!(output.status.success(), "{scenario}: {stdout}");
                assert!(
                    stdout.contains("user handler saw it"),
                    "{scenario}: {stdout}"
                );
            }
        }
    }
}

/// Runs only as a child of `previous_disposition_is_back_when_the_last_listener_ends`.
#[test]
fn child_process() {
    let Ok(scenario) = std::env::var(CHILD_ENV) else {
        return;
    };
    let user_flag = Arc::new(AtomicBool::new(false));
    let (signal, number) = match scenario.as_str() {
        "sigint" => (Signal::Int, SIGINT),
        "sigterm" => (Signal::Term, SIGTERM),
        "user_handler" => {
            signal_hook::flag::register(SIGUSR1, user_flag.clone()).unwrap();
            (Signal::Usr1, SIGUSR1)
        }
        other => panic!("unknown scenario {other}"),
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let op = Cancelable::with_signal([signal]);
        let err = op
            .run(async {
                raise(number).unwrap();
                std::future::pending::<()>().await
            })
            .await
            .unwrap_err();
        assert!(err.is_signal());
        println!("operation cancelled by the signal");
    });
    user_flag.store(false, Ordering::SeqCst);
    // Nobody listens any more: the signal has its previous effect.
    raise(number).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    if user_flag.load(Ordering::SeqCst) {
        println!("user handler saw it");
    }
    println!("still alive");
}
