//! Resource limits as a source of cancellation (feature `resources`, through `sysinfo`).
//!
//! 1. A batch job runs under realistic limits (memory 95 %, CPU 99 %, disk 99 % of `/`): none
//!    is crossed, the job completes.
//! 2. The same job with a memory limit set just below the machine's current use: the limit is
//!    crossed at the first check, and the message names the limit and the measured value.
//! 3. Combined with a timeout: whichever fires first wins.
//!
//! Run it with `cargo run --example resource_monitoring` (about one second).

use std::time::Duration;

use cancelable::{Cancelable, ResourceLimits};
use tokio::time::sleep;

async fn batch_job() -> &'static str {
    for _ in 0..4 {
        sleep(Duration::from_millis(100)).await;
    }
    "4 batches written"
}

#[tokio::main]
async fn main() {
    // 1.
    let limits = ResourceLimits::new()
        .memory_percent(95.0)
        .cpu_percent(99.0)
        .disk_percent("/", 99.0);
    println!("1. limits: {limits}");
    let op = Cancelable::with_resource_limits(limits, Duration::from_millis(250)).named("batch");
    match op.run(batch_job()).await {
        Ok(done) => println!("   completed: {done}"),
        Err(err) => println!("   stopped: {err}"),
    }

    // 2. A limit the machine is certainly above: 0.1 % of memory.
    let limits = ResourceLimits::new().memory_percent(0.1);
    println!("2. limits: {limits}");
    let op = Cancelable::with_resource_limits(limits, Duration::from_millis(250)).named("batch");
    let err = op.run(batch_job()).await.unwrap_err();
    println!("   stopped: {err} [reason {}]", err.reason());

    // 3. With a timeout, any-of.
    let op = Cancelable::with_timeout(Duration::from_millis(150))
        .combine(Cancelable::with_resource_limits(
            ResourceLimits::new().memory_percent(99.9),
            Duration::from_millis(50),
        ))
        .named("batch");
    println!("3. a 150 ms timeout and memory > 99.9%");
    let err = op.run(batch_job()).await.unwrap_err();
    println!("   stopped: {err}");
}
