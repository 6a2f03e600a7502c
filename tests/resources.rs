//! `Cancelable::with_resource_limits`, measured for real through `sysinfo`: limits of 0 % are
//! certainly crossed, limits of 100 % certainly not.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use cancelable::{Cancelable, CancellationReason, ResourceLimits};

/// `"<what> is 42.5%, above the limit of 0%"`: the measured value is a number in 0..=100.
fn assert_names_limit_and_value(message: &str, what: &str) {
    let rest = message
        .strip_prefix(what)
        .and_then(|rest| rest.strip_prefix(" is "))
        .unwrap_or_else(|| panic!("{message:?} does not start with {what:?}"));
    let (value, limit) = rest.split_once("%, above the limit of ").unwrap();
    let value: f64 = value.parse().unwrap();
    assert!(value > 0.0 && value <= 100.0, "{message}");
    assert_eq!(limit, "0%");
}

#[tokio::test]
async fn a_memory_limit_of_zero_is_crossed_at_the_first_check() {
    let op = Cancelable::with_resource_limits(
        ResourceLimits::new().memory_percent(0.0),
        Duration::from_secs(3600),
    )
    .named("memory_bound");
    let err = op.run(std::future::pending::<()>()).await.unwrap_err();
    assert_eq!(err.reason(), CancellationReason::Condition);
    assert_names_limit_and_value(err.message().unwrap(), "memory usage");
    assert!(
        err.to_string()
            .starts_with(r#"operation "memory_bound" cancelled: memory usage is "#)
    );
}

#[tokio::test]
async fn a_disk_limit_of_zero_is_crossed_at_the_first_check() {
    let op = Cancelable::with_resource_limits(
        ResourceLimits::new().disk_percent("/", 0.0),
        Duration::from_secs(3600),
    );
    let err = op.run(std::future::pending::<()>()).await.unwrap_err();
    assert!(err.is_condition());
    assert_names_limit_and_value(err.message().unwrap(), r#"disk usage of "/""#);
}

#[tokio::test]
async fn a_cpu_limit_of_zero_is_crossed_once_two_measurements_exist() {
    // Keep a core busy, so that the usage between two measurements is above zero.
    let stop = Arc::new(AtomicBool::new(false));
    let spinner = std::thread::spawn({
        let stop = stop.clone();
        move || {
            while !stop.load(Ordering::Relaxed) {
                std::hint::spin_loop();
            }
        }
    });
    let op = Cancelable::with_resource_limits(
        ResourceLimits::new().cpu_percent(0.0),
        Duration::from_millis(50),
    );
    let outcome = tokio::time::timeout(
        Duration::from_secs(10),
        op.run(std::future::pending::<()>()),
    )
    .await;
    stop.store(true, Ordering::Relaxed);
    spinner.join().unwrap();
    let err = outcome.expect("the CPU limit was crossed").unwrap_err();
    assert!(err.is_condition());
    assert_names_limit_and_value(err.message().unwrap(), "CPU usage");
}

#[tokio::test]
async fn limits_of_one_hundred_percent_are_never_crossed() {
    let op = Cancelable::with_resource_limits(
        ResourceLimits::new()
            .memory_percent(100.0)
            .cpu_percent(100.0)
            .disk_percent("/", 100.0),
        Duration::from_millis(210),
    );
    // Long enough for several checks, the CPU's included (measured 200 ms apart at least).
    let outcome = op.run(tokio::time::sleep(Duration::from_millis(700))).await;
    assert_eq!(outcome, Ok(()));
}

#[tokio::test(start_paused = true)]
async fn a_path_on_no_mounted_file_system_is_left_unchecked() {
    let op = Cancelable::with_resource_limits(
        ResourceLimits::new().disk_percent("relative/path/nowhere", 0.0),
        Duration::from_millis(100),
    );
    let outcome = op.run(tokio::time::sleep(Duration::from_secs(1))).await;
    assert_eq!(outcome, Ok(()));
}

#[test]
fn limits_read_like_their_definition() {
    let limits = ResourceLimits::new()
        .memory_percent(90.0)
        .cpu_percent(95.5)
        .disk_percent("/", 95.0)
        .disk_percent("/var", 80.0);
    assert_eq!(
        limits.to_string(),
        r#"memory > 90%, CPU > 95.5%, disk "/" > 95%, disk "/var" > 80%"#
    );
    assert_eq!(ResourceLimits::new().to_string(), "no limit");
}
