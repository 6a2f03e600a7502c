//! UI tests for the `cancelable` macros.
