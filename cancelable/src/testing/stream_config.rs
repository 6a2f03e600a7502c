//! [`StreamConfig`]: how [`simulate_stream`](super::simulate_stream) chunks and paces a text,
//! and its validation ([`StreamConfigError`]), with the Python simulator's rules and messages.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How [`simulate_stream`](super::simulate_stream) cuts a text into chunks and paces them:
/// a base delay with jitter, bursts of quick chunks, stalls.
///
/// Public fields with Python's defaults, and a [`seed`](Self::seed): one seed gives one event
/// sequence, on every run and platform. Build it with struct update syntax:
///
/// ```
/// use std::time::Duration;
/// use cancelable::testing::StreamConfig;
///
/// let config = StreamConfig {
///     seed: 42,
///     chunk_size: 4,
///     stall_probability: 0.0,
///     base_delay: Duration::from_millis(10),
///     ..StreamConfig::default()
/// };
/// assert_eq!(config.validate(), Ok(()));
/// assert_eq!(StreamConfig::default().base_delay, Duration::from_millis(50));
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StreamConfig {
    /// The generator's seed (default 0).
    pub seed: u64,
    /// Characters per chunk (default 1; at least 1). Chunks are cut on `char` boundaries.
    pub chunk_size: usize,
    /// The delay before each chunk outside bursts (default 50 ms).
    pub base_delay: Duration,
    /// How far a jittered delay moves from `base_delay`, either way (default 20 ms); a delay
    /// never goes below zero.
    pub jitter: Duration,
    /// The probability that a delay is jittered (default 0.3; 0 to 1).
    pub jitter_probability: f64,
    /// The probability, per step, of a burst (default 0.1; 0 to 1).
    pub burst_probability: f64,
    /// Chunks per burst, 1 ms apart (default 3; at least 1).
    pub burst_size: usize,
    /// The probability, per step, of a stall before the step's chunks (default 0.05; 0 to 1).
    pub stall_probability: f64,
    /// How long a stall lasts (default 500 ms).
    pub stall_duration: Duration,
    /// Draw each chunk's size from [`chunk_size_range`](Self::chunk_size_range) (default
    /// `false`).
    pub variable_chunk_size: bool,
    /// `(min, max)` chunk sizes, both included, for `variable_chunk_size`; when `None`, it is
    /// `(max(1, chunk_size / 2), chunk_size * 2)`.
    pub chunk_size_range: Option<(usize, usize)>,
    /// Relative weights of the sizes `min, min + 1, …, max`: missing weights count 1, extra
    /// ones are ignored. `None`: uniform.
    pub chunk_size_weights: Option<Vec<f64>>,
}

impl Default for StreamConfig {
    fn default() -> Self {
        StreamConfig {
            seed: 0,
            chunk_size: 1,
            base_delay: Duration::from_millis(50),
            jitter: Duration::from_millis(20),
            jitter_probability: 0.3,
            burst_probability: 0.1,
            burst_size: 3,
            stall_probability: 0.05,
            stall_duration: Duration::from_millis(500),
            variable_chunk_size: false,
            chunk_size_range: None,
            chunk_size_weights: None,
        }
    }
}

impl StreamConfig {
    /// Checks the rules of the Python simulator's config, with its messages: sizes at least 1,
    /// probabilities between 0 and 1, a chunk size range with `1 <= min <= max`, and weights
    /// that are finite, not negative and not all zero.
    ///
    /// Nothing is changed: the default range is computed where it is used
    /// ([`effective_chunk_size_range`](Self::effective_chunk_size_range)), and the weights are
    /// read, never padded in place.
    ///
    /// ```
    /// use cancelable::testing::{StreamConfig, StreamConfigError};
    ///
    /// let config = StreamConfig { chunk_size_range: Some((5, 2)), ..StreamConfig::default() };
    /// let err = config.validate().unwrap_err();
    /// assert_eq!(err, StreamConfigError::MinChunkSizeAboveMax { min: 5, max: 2 });
    /// assert_eq!(err.to_string(), "Minimum chunk size cannot be greater than maximum chunk size");
    /// ```
    pub fn validate(&self) -> Result<(), StreamConfigError> {
        for (field, value) in [
            ("chunk_size", self.chunk_size),
            ("burst_size", self.burst_size),
        ] {
            if value < 1 {
                return Err(StreamConfigError::BelowOne { field });
            }
        }
        for (field, value) in [
            ("jitter_probability", self.jitter_probability),
            ("burst_probability", self.burst_probability),
            ("stall_probability", self.stall_probability),
        ] {
            if !(0.0..=1.0).contains(&value) {
                return Err(StreamConfigError::NotAProbability { field, value });
            }
        }
        if let Some((min, max)) = self.chunk_size_range {
            if min < 1 {
                return Err(StreamConfigError::MinChunkSizeBelowOne);
            }
            if min > max {
                return Err(StreamConfigError::MinChunkSizeAboveMax { min, max });
            }
        }
        if let (Some((min, max)), Some(weights)) = (
            self.effective_chunk_size_range(),
            self.chunk_size_weights.as_deref(),
        ) {
            if weights.iter().any(|w| !w.is_finite() || *w < 0.0) {
                return Err(StreamConfigError::InvalidWeight);
            }
            let total: f64 = (0..=max - min).map(|i| weight(weights, i)).sum();
            if total <= 0.0 {
                return Err(StreamConfigError::ZeroWeights);
            }
        }
        Ok(())
    }

    /// The `(min, max)` sizes chunks are drawn from: `None` unless `variable_chunk_size`; the
    /// given range, or `(max(1, chunk_size / 2), chunk_size * 2)`.
    ///
    /// ```
    /// use cancelable::testing::StreamConfig;
    /// let config = StreamConfig { chunk_size: 100, variable_chunk_size: true, ..StreamConfig::default() };
    /// assert_eq!(config.effective_chunk_size_range(), Some((50, 200)));
    /// assert_eq!(StreamConfig::default().effective_chunk_size_range(), None);
    /// ```
    pub fn effective_chunk_size_range(&self) -> Option<(usize, usize)> {
        if !self.variable_chunk_size {
            return None;
        }
        Some(self.chunk_size_range.unwrap_or((
            (self.chunk_size / 2).max(1),
            self.chunk_size.saturating_mul(2),
        )))
    }
}

/// The weight of the `i`-th size: missing weights count 1.
pub(crate) fn weight(weights: &[f64], i: usize) -> f64 {
    weights.get(i).copied().unwrap_or(1.0)
}

/// Why a [`StreamConfig`] is invalid. The messages are the Python simulator's (its model's
/// field constraints, its validator, `random.choices`).
///
/// ```
/// use cancelable::testing::StreamConfig;
///
/// let config = StreamConfig { burst_probability: 1.5, ..StreamConfig::default() };
/// assert_eq!(
///     config.validate().unwrap_err().to_string(),
///     "burst_probability: Input should be less than or equal to 1"
/// );
/// ```
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum StreamConfigError {
    /// `chunk_size` or `burst_size` is 0.
    BelowOne {
        /// The field.
        field: &'static str,
    },
    /// A probability outside `0..=1` (or NaN).
    NotAProbability {
        /// The field.
        field: &'static str,
        /// Its value.
        value: f64,
    },
    /// The chunk size range starts at 0.
    MinChunkSizeBelowOne,
    /// The chunk size range's minimum is above its maximum.
    MinChunkSizeAboveMax {
        /// The range's minimum.
        min: usize,
        /// The range's maximum.
        max: usize,
    },
    /// A weight is negative, infinite or NaN.
    InvalidWeight,
    /// The weights of the range's sizes add up to zero.
    ZeroWeights,
}

impl fmt::Display for StreamConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StreamConfigError::BelowOne { field } => {
                write!(f, "{field}: Input should be greater than or equal to 1")
            }
            StreamConfigError::NotAProbability { field, value } if *value > 1.0 => {
                write!(f, "{field}: Input should be less than or equal to 1")
            }
            StreamConfigError::NotAProbability { field, value } if *value < 0.0 => {
                write!(f, "{field}: Input should be greater than or equal to 0")
            }
            StreamConfigError::NotAProbability { field, .. } => {
                write!(f, "{field}: Input should be a finite number")
            }
            StreamConfigError::MinChunkSizeBelowOne => {
                f.write_str("Minimum chunk size must be at least 1")
            }
            StreamConfigError::MinChunkSizeAboveMax { .. } => {
                f.write_str("Minimum chunk size cannot be greater than maximum chunk size")
            }
            StreamConfigError::InvalidWeight => {
                f.write_str("Chunk size weights must be finite and non-negative")
            }
            StreamConfigError::ZeroWeights => {
                f.write_str("Total of weights must be greater than zero")
            }
        }
    }
}

impl std::error::Error for StreamConfigError {}
