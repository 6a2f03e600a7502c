//! Resource limits as a source of cancellation: [`Cancelable::with_resource_limits`], measured
//! through [`sysinfo`].
//!
//! Memory, CPU and the disk of any path, each with its own threshold; the cancellation message
//! names the limit crossed and the value measured.
//!
//! [`sysinfo`]: https://docs.rs/sysinfo

use std::fmt;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use sysinfo::{Disks, System};
use tokio::time::{Interval, MissedTickBehavior};

use crate::error::{CancellationError, CancellationReason};
use crate::operation::Cancelable;

/// Thresholds on the machine's memory, CPU and disk usage, in percent.
///
/// A limit is crossed when the measured usage goes *above* it: `0.0` is crossed by any use,
/// `100.0` never.
///
/// ```
/// use cancelable::ResourceLimits;
///
/// let limits = ResourceLimits::new()
///     .memory_percent(90.0)
///     .cpu_percent(95.0)
///     .disk_percent("/", 95.0);
/// assert_eq!(limits.to_string(), r#"memory > 90%, CPU > 95%, disk "/" > 95%"#);
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ResourceLimits {
    memory: Option<f64>,
    cpu: Option<f64>,
    disks: Vec<(PathBuf, f64)>,
}

impl ResourceLimits {
    /// No limit yet.
    pub fn new() -> Self {
        ResourceLimits::default()
    }

    /// Used memory above `percent` of the total.
    pub fn memory_percent(mut self, percent: f64) -> Self {
        self.memory = Some(percent);
        self
    }

    /// Average CPU usage (over all cores, since the previous check) above `percent`.
    ///
    /// CPU usage is a difference between two measurements: the first check only takes the
    /// first one, and checks less than 200 ms apart reuse the last value.
    pub fn cpu_percent(mut self, percent: f64) -> Self {
        self.cpu = Some(percent);
        self
    }

    /// Space used on the file system holding `path` above `percent` of its size. May be given
    /// for several paths.
    pub fn disk_percent(mut self, path: impl Into<PathBuf>, percent: f64) -> Self {
        self.disks.push((path.into(), percent));
        self
    }
}

impl fmt::Display for ResourceLimits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if let Some(limit) = self.memory {
            parts.push(format!("memory > {}%", Percent(limit)));
        }
        if let Some(limit) = self.cpu {
            parts.push(format!("CPU > {}%", Percent(limit)));
        }
        for (path, limit) in &self.disks {
            parts.push(format!("disk {:?} > {}%", path, Percent(*limit)));
        }
        if parts.is_empty() {
            f.write_str("no limit")
        } else {
            f.write_str(&parts.join(", "))
        }
    }
}

/// A percentage with at most one decimal: `90`, `93.4`.
struct Percent(f64);

impl fmt::Display for Percent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rounded = (self.0 * 10.0).round() / 10.0;
        if rounded.fract() == 0.0 {
            write!(f, "{rounded:.0}")
        } else {
            write!(f, "{rounded:.1}")
        }
    }
}

// ===== impl Cancelable =====

impl Cancelable {
    /// Cancelled with reason `Condition` when the machine's usage crosses one of `limits`:
    /// checked when `run` starts, then every `check_interval`. The message names the limit and
    /// the measured value: `memory usage is 93.1%, above the limit of 90%`.
    ///
    /// The measurements (`/proc` reads and a `statvfs` on Linux) run on the operation's own
    /// task and take microseconds; nothing is spawned. A disk path that no mounted file system
    /// holds is logged and left unchecked.
    ///
    /// ```
    /// use std::time::Duration;
    /// use cancelable::{Cancelable, ResourceLimits};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// // A limit of 0% is crossed at once.
    /// let op = Cancelable::with_resource_limits(
    ///     ResourceLimits::new().memory_percent(0.0),
    ///     Duration::from_secs(1),
    /// );
    /// let err = op.run(std::future::pending::<()>()).await.unwrap_err();
    /// assert!(err.is_condition());
    /// assert!(err.message().unwrap().starts_with("memory usage is "));
    /// # }
    /// ```
    #[cfg_attr(docsrs, doc(cfg(feature = "resources")))]
    pub fn with_resource_limits(limits: ResourceLimits, check_interval: Duration) -> Self {
        Cancelable::with_source(Monitor {
            limits,
            check_interval,
            state: None,
        })
    }
}

// ===== Monitor =====

/// The source: measures on each tick until a limit is crossed.
struct Monitor {
    limits: ResourceLimits,
    check_interval: Duration,
    /// Created on the first poll (inside the runtime, when `run` starts).
    state: Option<Box<Measurer>>,
}

struct Measurer {
    ticks: Interval,
    system: System,
    /// When the CPU was last measured (real time): usage is a difference between two.
    cpu_measured: Option<std::time::Instant>,
    cpu_usage: Option<f64>,
    disks: Disks,
    /// For each disk limit, the index of the disk holding its path.
    disk_index: Vec<Option<usize>>,
}

impl Measurer {
    fn new(limits: &ResourceLimits, check_interval: Duration) -> Self {
        let period = check_interval.max(Duration::from_millis(1));
        let mut ticks = tokio::time::interval(period);
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let disks = if limits.disks.is_empty() {
            Disks::new()
        } else {
            Disks::new_with_refreshed_list()
        };
        let disk_index = limits
            .disks
            .iter()
            .map(|(path, _)| {
                let index = holding_disk(&disks, path);
                if index.is_none() {
                    tracing::warn!(
                        path = %path.display(),
                        "no mounted file system holds this path: its disk limit is not checked"
                    );
                }
                index
            })
            .collect();
        Measurer {
            ticks,
            system: System::new(),
            cpu_measured: None,
            cpu_usage: None,
            disks,
            disk_index,
        }
    }

    /// The first limit crossed, if any.
    fn check(&mut self, limits: &ResourceLimits) -> Option<String> {
        if let Some(limit) = limits.memory {
            self.system.refresh_memory();
            let total = self.system.total_memory();
            if total > 0 {
                let used = self.system.used_memory() as f64 / total as f64 * 100.0;
                if used > limit {
                    return Some(format!(
                        "memory usage is {}%, above the limit of {}%",
                        Percent(used),
                        Percent(limit)
                    ));
                }
            }
        }
        if let Some(limit) = limits.cpu
            && let Some(used) = self.cpu_usage()
            && used > limit
        {
            return Some(format!(
                "CPU usage is {}%, above the limit of {}%",
                Percent(used),
                Percent(limit)
            ));
        }
        for ((path, limit), index) in limits.disks.iter().zip(&self.disk_index) {
            let Some(disk) = index.and_then(|i| self.disks.list_mut().get_mut(i)) else {
                continue;
            };
            disk.refresh();
            let total = disk.total_space();
            if total == 0 {
                continue;
            }
            let used = total.saturating_sub(disk.available_space()) as f64 / total as f64 * 100.0;
            if used > *limit {
                return Some(format!(
                    "disk usage of {:?} is {}%, above the limit of {}%",
                    path,
                    Percent(used),
                    Percent(*limit)
                ));
            }
        }
        None
    }

    /// The CPU usage since the previous measurement at least `MINIMUM_CPU_UPDATE_INTERVAL` ago;
    /// `None` until two measurements exist.
    fn cpu_usage(&mut self) -> Option<f64> {
        let now = std::time::Instant::now();
        let due = self
            .cpu_measured
            .is_none_or(|at| now.duration_since(at) >= sysinfo::MINIMUM_CPU_UPDATE_INTERVAL);
        if due {
            self.system.refresh_cpu_usage();
            if self.cpu_measured.is_some() {
                self.cpu_usage = Some(f64::from(self.system.global_cpu_usage()));
            }
            self.cpu_measured = Some(now);
        }
        self.cpu_usage
    }
}

/// The disk whose mount point is the longest prefix of `path`.
fn holding_disk(disks: &Disks, path: &Path) -> Option<usize> {
    let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned());
    disks
        .list()
        .iter()
        .enumerate()
        .filter(|(_, disk)| path.starts_with(disk.mount_point()))
        .max_by_key(|(_, disk)| disk.mount_point().as_os_str().len())
        .map(|(i, _)| i)
}

impl Future for Monitor {
    type Output = CancellationError;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<CancellationError> {
        let this = self.get_mut();
        let measurer = this
            .state
            .get_or_insert_with(|| Box::new(Measurer::new(&this.limits, this.check_interval)));
        loop {
            ready!(measurer.ticks.poll_tick(cx));
            if let Some(message) = measurer.check(&this.limits) {
                return Poll::Ready(
                    CancellationError::new(CancellationReason::Condition).with_message(message),
                );
            }
        }
    }
}
