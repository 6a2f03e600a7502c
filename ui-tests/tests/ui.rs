//! Compile-time behaviour of the macros: `pass/` must build and run, `fail/` must fail with the
//! error in its `.stderr`. After a toolchain change: `TRYBUILD=overwrite cargo test -p
//! cancelable-ui-tests`, then read every changed `.stderr`.

#[test]
#[cfg(feature = "signal")]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass/*.rs");
    t.compile_fail("tests/ui/fail/*.rs");
}

/// `cargo test -p cancelable-ui-tests --no-default-features`: `cancelable` without `signal`.
#[test]
#[cfg(not(feature = "signal"))]
fn ui_without_signal_feature() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/no-signal/*.rs");
}
