//! OS signals: parsing, one shared listener, delivery to every listener, and the previous
//! disposition restored when nobody listens (checked in child processes of this test binary).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use cancelable::test_util::signal_listeners;
use cancelable::{Cancelable, CancellationError, CancellationReason, Signal};
use signal_hook::consts::{SIGINT, SIGTERM, SIGUSR1, SIGUSR2};
use signal_hook::low_level::raise;

use crate::child::{Ending, run_scenario};

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
        assert_eq!(err.reason(), CancellationReason::Signal);
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
    assert_eq!(err.reason(), CancellationReason::Signal);
    assert_eq!(err.message(), Some("received signal SIGUSR2"));
    assert_eq!(err.operation_name(), Some("wait_for_usr2"));
    assert_eq!(err.signal(), Some(Signal::Usr2));
    assert_eq!(signal_listeners(), 0);

    signals_without_an_operation().await;
}

#[cancelable::cancelable(signal = ["SIGUSR2", "SIGHUP"])]
async fn wait_for_usr2(ready: tokio::sync::oneshot::Sender<()>) {
    ready.send(()).unwrap();
    std::future::pending::<()>().await
}

/// What a child process is expected to do: die of a signal, or exit normally; and what it
/// prints on the way.
struct Expect {
    scenario: &'static str,
    dies_of: Option<i32>,
    prints: &'static [&'static str],
}

#[test]
fn previous_disposition_is_back_when_the_last_listener_ends() {
    let cases = [
        Expect {
            scenario: "sigint",
            dies_of: Some(SIGINT),
            prints: &["operation cancelled by the signal"],
        },
        Expect {
            scenario: "sigterm",
            dies_of: Some(SIGTERM),
            prints: &["operation cancelled by the signal"],
        },
        Expect {
            scenario: "user_handler",
            dies_of: None,
            prints: &["operation cancelled by the signal", "user handler saw it"],
        },
        Expect {
            scenario: "sigint_user_handler",
            dies_of: None,
            prints: &[
                "operation cancelled by the signal",
                "user handler saw the delivery we listened to",
                "user handler saw it",
            ],
        },
        Expect {
            scenario: "sigterm_user_handler",
            dies_of: None,
            prints: &[
                "operation cancelled by the signal",
                "user handler saw the delivery we listened to",
                "user handler saw it",
            ],
        },
        Expect {
            scenario: "fan_out",
            dies_of: Some(SIGTERM),
            prints: &["6 operations saw one delivery"],
        },
        Expect {
            scenario: "burst",
            dies_of: None,
            prints: &["burst over", "no stale delivery", "still alive"],
        },
        Expect {
            scenario: "endings",
            dies_of: Some(SIGTERM),
            prints: &["every ending removed its listeners"],
        },
    ];
    for case in cases {
        check_child(&case);
    }
}

fn check_child(expect: &Expect) {
    let ending = match expect.dies_of {
        Some(signal) => Ending::Signal(signal),
        None => Ending::Code(0),
    };
    run_scenario(
        "signals::child_process",
        CHILD_ENV,
        expect.scenario,
        ending,
        expect.prints,
    );
}

/// Runs only as a child of `previous_disposition_is_back_when_the_last_listener_ends`: one
/// scenario per process, so that no two self-signalling tests share a process.
#[test]
fn child_process() {
    let Ok(scenario) = std::env::var(CHILD_ENV) else {
        return;
    };
    match scenario.as_str() {
        "sigint" => after_one_operation(Signal::Int, SIGINT, false),
        "sigterm" => after_one_operation(Signal::Term, SIGTERM, false),
        "user_handler" => after_one_operation(Signal::Usr1, SIGUSR1, true),
        "sigint_user_handler" => after_one_operation(Signal::Int, SIGINT, true),
        "sigterm_user_handler" => after_one_operation(Signal::Term, SIGTERM, true),
        "fan_out" => fan_out(),
        "burst" => burst(),
        "endings" => endings(),
        other => panic!("unknown scenario {other}"),
    }
}

fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// One operation cancelled by `number`; then, with nobody listening, `number` again: the
/// process dies of it, or the user's handler installed first sees it.
fn after_one_operation(signal: Signal, number: i32, user_handler: bool) {
    let user_flag = Arc::new(AtomicBool::new(false));
    if user_handler {
        signal_hook::flag::register(number, user_flag.clone()).unwrap();
    }
    current_thread().block_on(async {
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
    assert_eq!(signal_listeners(), 0);
    if user_flag.swap(false, Ordering::SeqCst) {
        println!("user handler saw the delivery we listened to");
    }
    // Nobody listens any more: the signal has its previous effect.
    raise(number).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    if user_flag.load(Ordering::SeqCst) {
        println!("user handler saw it");
    }
    println!("still alive");
}

/// Six operations listen to SIGTERM (one of them to SIGINT as well): one delivery cancels
/// them all, then the last one to end restores the default action.
fn fan_out() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let (ready_tx, mut ready_rx) = tokio::sync::mpsc::unbounded_channel();
        let ops: Vec<_> = (0..6)
            .map(|i| {
                let signals = if i == 0 {
                    vec![Signal::Int, Signal::Term]
                } else {
                    vec![Signal::Term]
                };
                let ready = ready_tx.clone();
                let op = Cancelable::with_signal(signals);
                tokio::spawn(async move {
                    op.run(async {
                        ready.send(()).unwrap();
                        std::future::pending::<()>().await
                    })
                    .await
                })
            })
            .collect();
        for _ in 0..6 {
            ready_rx.recv().await.unwrap();
        }
        assert_eq!(signal_listeners(), 2, "SIGINT and SIGTERM, shared");
        raise(SIGTERM).unwrap();
        for op in ops {
            let err = tokio::time::timeout(Duration::from_secs(10), op)
                .await
                .unwrap()
                .unwrap()
                .unwrap_err();
            assert_eq!(err.message(), Some("received signal SIGTERM"));
        }
    });
    assert_eq!(signal_listeners(), 0);
    println!("6 operations saw one delivery");
    raise(SIGTERM).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    println!("still alive");
}

/// A thread raises SIGUSR2 in bursts while operations start and end listening to it; the
/// user's own handler, installed first, keeps the process alive between listeners. Every
/// operation ends; once the bursts are over, no stale delivery cancels a new listener.
fn burst() {
    let user_flag = Arc::new(AtomicBool::new(false));
    signal_hook::flag::register(SIGUSR2, user_flag.clone()).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let raiser = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut raised = 0;
            while !stop.load(Ordering::SeqCst) {
                for _ in 0..50 {
                    raise(SIGUSR2).unwrap();
                    raised += 1;
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            raised
        })
    };
    let (by_signal, by_timeout) = rt.block_on(async {
        let mut by_signal = 0;
        let mut by_timeout = 0;
        for _ in 0..50 {
            let ops: Vec<_> = (0..8)
                .map(|_| {
                    let op = Cancelable::with_signal([Signal::Usr2])
                        .combine(Cancelable::with_timeout(Duration::from_millis(20)));
                    tokio::spawn(async move { op.run(std::future::pending::<()>()).await })
                })
                .collect();
            for op in ops {
                let err = op.await.unwrap().unwrap_err();
                if err.is_signal() {
                    by_signal += 1;
                } else {
                    assert!(err.is_timeout(), "{err}");
                    by_timeout += 1;
                }
            }
        }
        (by_signal, by_timeout)
    });
    stop.store(true, Ordering::SeqCst);
    let raised = raiser.join().unwrap();
    assert!(by_signal > 0, "no operation saw the bursts");
    assert_eq!(signal_listeners(), 0);
    println!(
        "burst over: {raised} signals raised, {by_signal} operations cancelled by one, {by_timeout} timed out"
    );

    // The deliveries of the bursts are all handled: a new listener sees none of them.
    std::thread::sleep(Duration::from_millis(100));
    rt.block_on(async {
        let op = Cancelable::with_signal([Signal::Usr2])
            .combine(Cancelable::with_timeout(Duration::from_millis(200)));
        let err = op.run(std::future::pending::<()>()).await.unwrap_err();
        assert!(
            err.is_timeout(),
            "a stale delivery cancelled a new listener: {err}"
        );
    });
    println!("no stale delivery");
    assert!(user_flag.load(Ordering::SeqCst));
    println!("still alive");
}

/// Every way an operation ends removes its signal listeners; after all of them SIGTERM has its
/// default effect again.
fn endings() {
    fn listening() -> Cancelable {
        Cancelable::with_signal([Signal::Term, Signal::Usr1])
            .combine(Cancelable::with_timeout(Duration::from_secs(5)))
    }
    fn assert_none_left(case: &str) {
        assert_eq!(signal_listeners(), 0, "{case}: a listener is left");
    }
    let rt = current_thread();
    rt.block_on(async {
        assert_eq!(listening().run(async { 1 }).await, Ok(1));
        assert_none_left("completion at once");

        let op = listening();
        let result = op.run(tokio::time::sleep(Duration::from_millis(1))).await;
        assert_eq!(result, Ok(()));
        assert_none_left("completion");

        let op = listening();
        let handle = op.clone();
        let err = op
            .run(async move {
                handle.cancel();
                tokio::task::yield_now().await;
            })
            .await
            .unwrap_err();
        assert!(err.is_manual());
        assert_none_left("manual cancel");

        let op = Cancelable::with_signal([Signal::Term])
            .combine(Cancelable::with_timeout(Duration::from_millis(1)));
        assert!(
            op.run(std::future::pending::<()>())
                .await
                .unwrap_err()
                .is_timeout()
        );
        assert_none_left("timeout");

        let op = listening();
        let err = op
            .run(async {
                raise(SIGUSR1).unwrap();
                std::future::pending::<()>().await
            })
            .await
            .unwrap_err();
        assert!(err.is_signal());
        assert_none_left("signal");

        let parent = Cancelable::new();
        let op = listening().parent(&parent);
        let task = tokio::spawn(async move { op.run(std::future::pending::<()>()).await });
        tokio::task::yield_now().await;
        assert_eq!(signal_listeners(), 2);
        parent.cancel();
        assert!(task.await.unwrap().unwrap_err().is_parent());
        assert_none_left("parent cancel");

        let op = listening();
        let result: Result<(), CancellationError> = op
            .try_run(async {
                tokio::task::yield_now().await;
                Err(CancellationError::new(CancellationReason::Manual))
            })
            .await;
        assert!(result.is_err());
        assert_none_left("error");

        let op = listening();
        let task = tokio::spawn(async move {
            op.run(async {
                tokio::task::yield_now().await;
                panic!("the body panicked on purpose");
            })
            .await
        });
        assert!(task.await.unwrap_err().is_panic());
        assert_none_left("panic in the body");

        let op = listening();
        let mut run = Box::pin(op.run(std::future::pending::<()>()));
        assert!(crate::poll_once(&mut run).is_pending());
        assert_eq!(signal_listeners(), 2);
        drop(run);
        assert_none_left("run dropped");
    });
    drop(rt);

    let rt = current_thread();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    for _ in 0..10 {
        let ready = ready_tx.clone();
        rt.spawn(async move {
            listening()
                .run(async {
                    ready.send(()).unwrap();
                    std::future::pending::<()>().await
                })
                .await
        });
    }
    rt.block_on(async {
        for _ in 0..10 {
            while ready_rx.try_recv().is_err() {
                tokio::task::yield_now().await;
            }
        }
    });
    assert_eq!(signal_listeners(), 2);
    drop(rt);
    assert_none_left("runtime shut down");

    println!("every ending removed its listeners");
    raise(SIGTERM).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    println!("still alive");
}

/// `Signal::wait` and `CancellationToken::on_signals`: the same shared listeners, no
/// operation, nothing logged, listeners gone when the wait or the token is.
async fn signals_without_an_operation() {
    let (capture, _guard) = crate::capture::Capture::install();
    assert!(Signal::wait([]).is_err(), "an empty list is an error");

    let wait = Signal::wait([Signal::Usr1, Signal::Usr2, Signal::Usr1]).unwrap();
    assert_eq!(
        signal_listeners(),
        2,
        "listening from the call, once per signal"
    );
    raise(SIGUSR2).unwrap();
    let got = tokio::time::timeout(Duration::from_secs(10), wait)
        .await
        .unwrap();
    assert_eq!(got, Signal::Usr2);
    assert_eq!(signal_listeners(), 0, "a resolved wait stops listening");

    drop(Signal::wait([Signal::Usr1]).unwrap());
    assert_eq!(signal_listeners(), 0, "an abandoned wait stops listening");

    let token = cancelable::CancellationToken::on_signals([Signal::Usr1]).unwrap();
    let clone = token.clone();
    assert_eq!(signal_listeners(), 1);
    raise(SIGUSR1).unwrap();
    tokio::time::timeout(Duration::from_secs(10), clone.cancelled())
        .await
        .unwrap();
    let err = token.cancellation().unwrap();
    assert_eq!(err.reason(), CancellationReason::Signal);
    assert_eq!(err.signal(), Some(Signal::Usr1));
    assert_eq!(err.message(), Some("received signal SIGUSR1"));
    // The delivering thread gives the subscription back right after it cancelled the token.
    let released = async {
        while signal_listeners() != 0 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(10), released)
        .await
        .expect("a cancelled token stops listening");

    let token = cancelable::CancellationToken::on_signals([Signal::Usr2]).unwrap();
    let clone = token.clone();
    drop(token);
    assert_eq!(signal_listeners(), 1, "a live handle keeps it listening");
    drop(clone);
    assert_eq!(
        signal_listeners(),
        0,
        "the last handle dropped stops listening"
    );

    let token = cancelable::CancellationToken::on_signals([Signal::Usr2]).unwrap();
    token.cancel();
    assert_eq!(signal_listeners(), 0, "cancelled by hand: stops listening");
    assert_eq!(token.cancellation().unwrap().signal(), None);

    let events = capture.events();
    assert!(events.is_empty(), "nothing is logged: {events:#?}");
}
