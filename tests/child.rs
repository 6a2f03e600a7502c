//! Scenarios that signal their own process run in a child process of this test binary: one
//! scenario per process, so that no two self-signalling tests share one.

use std::os::unix::process::ExitStatusExt;
use std::process::Command;

/// How a child process should end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ending {
    /// Killed by this signal.
    Signal(i32),
    /// Exited with this code.
    Code(i32),
}

/// Runs the test `test` (e.g. `"signals::child_process"`) again in a child process with
/// `env=scenario`, and checks how it ends and that it printed each of `prints`.
pub(crate) fn run_scenario(test: &str, env: &str, scenario: &str, ending: Ending, prints: &[&str]) {
    let output = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(env, scenario)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    for line in prints {
        assert!(
            stdout.contains(line),
            "{scenario}: expected {line:?} in\n{stdout}\n{stderr}"
        );
    }
    let ended = match (output.status.signal(), output.status.code()) {
        (Some(signal), _) => Ending::Signal(signal),
        (None, code) => Ending::Code(code.unwrap_or(-1)),
    };
    assert_eq!(ended, ending, "{scenario}: {stdout}\n{stderr}");
}
