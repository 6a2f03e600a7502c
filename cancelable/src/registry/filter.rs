//! [`OperationFilter`] and the name globs it matches.

use crate::context::OperationContext;
use crate::operation::Cancelable;
use crate::status::OperationStatus;

/// Which operations [`OperationRegistry::find`](crate::OperationRegistry::find) returns and
/// [`statistics_matching`](crate::OperationRegistry::statistics_matching) counts: every
/// condition set must hold.
///
/// # Examples
///
/// ```
/// use cancelable::{OperationFilter, OperationStatus};
///
/// let running_user_jobs = OperationFilter::new()
///     .status(OperationStatus::Running)
///     .name("user_*");
/// let children = OperationFilter::new().parent_id("batch-7");
/// let acme = OperationFilter::new().metadata("tenant", "acme");
/// # let _ = (running_user_jobs, children, acme);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OperationFilter {
    status: Option<OperationStatus>,
    name: Option<String>,
    parent_id: Option<String>,
    metadata: Vec<(String, serde_json::Value)>,
}

impl OperationFilter {
    /// A filter that admits every operation.
    pub fn new() -> Self {
        OperationFilter::default()
    }

    /// Only operations with this status.
    pub fn status(mut self, status: OperationStatus) -> Self {
        self.status = Some(status);
        self
    }

    /// Only operations whose name matches `glob`: `*` matches any run of characters (even
    /// none), `?` exactly one, anything else itself (case-sensitive).
    ///
    /// ```
    /// use cancelable::{Cancelable, OperationFilter, OperationRegistry};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let registry = OperationRegistry::new();
    /// for name in ["job_1", "job_22", "report_job"] {
    ///     Cancelable::new().named(name).register_in(&registry).run(async {}).await.unwrap();
    /// }
    /// let names = |glob: &str| -> Vec<String> {
    ///     registry.find(&OperationFilter::new().name(glob)).into_iter().map(|c| c.name).collect()
    /// };
    /// assert_eq!(names("job_?"), ["job_1"]);
    /// assert_eq!(names("*_job"), ["report_job"]);
    /// assert_eq!(names("*job*").len(), 3);
    /// # }
    /// ```
    pub fn name(mut self, glob: impl Into<String>) -> Self {
        self.name = Some(glob.into());
        self
    }

    /// Only children of the operation with this id.
    pub fn parent_id(mut self, id: impl Into<String>) -> Self {
        self.parent_id = Some(id.into());
        self
    }

    /// Only operations whose metadata has `key` set to `value` (see
    /// [`Cancelable::metadata`](crate::Cancelable::metadata)); each call adds a condition.
    ///
    /// ```
    /// use cancelable::{Cancelable, OperationFilter, OperationRegistry};
    /// let registry = OperationRegistry::new();
    /// let jobs: Vec<_> = [("acme", 1), ("acme", 2), ("globex", 1)]
    ///     .into_iter()
    ///     .map(|(tenant, shard)| {
    ///         Cancelable::new()
    ///             .named("export")
    ///             .metadata("tenant", tenant)
    ///             .metadata("shard", shard)
    ///             .register_in(&registry)
    ///     })
    ///     .collect();
    /// let acme = OperationFilter::new().metadata("tenant", "acme");
    /// assert_eq!(registry.find(&acme).len(), 2);
    /// assert_eq!(registry.find(&acme.metadata("shard", 2)).len(), 1);
    /// # drop(jobs);
    /// ```
    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<serde_json::Value>) -> Self {
        self.metadata.push((key.into(), value.into()));
        self
    }

    /// Whether `ctx` satisfies every condition set.
    ///
    /// ```
    /// use cancelable::{Cancelable, OperationFilter, OperationStatus};
    /// let ctx = Cancelable::new().named("user_sync").context();
    /// assert!(OperationFilter::new().name("user_*").matches(&ctx));
    /// assert!(!OperationFilter::new().status(OperationStatus::Running).matches(&ctx));
    /// ```
    pub fn matches(&self, ctx: &OperationContext) -> bool {
        self.status.is_none_or(|status| ctx.status == status)
            && self
                .name
                .as_deref()
                .is_none_or(|glob| glob_match(glob, &ctx.name))
            && self
                .parent_id
                .as_ref()
                .is_none_or(|id| ctx.parent_id.as_ref() == Some(id))
            && self
                .metadata
                .iter()
                .all(|(key, value)| ctx.metadata.get(key) == Some(value))
    }

    /// The name condition alone, on a registry's copy of the name.
    pub(crate) fn admits_name(&self, name: &str) -> bool {
        self.name
            .as_deref()
            .is_none_or(|glob| glob_match(glob, name))
    }

    /// Every condition, read from the operation itself (no snapshot).
    pub(crate) fn admits(&self, op: &Cancelable) -> bool {
        self.status.is_none_or(|status| op.status() == status)
            && self.admits_name(op.name())
            && self
                .parent_id
                .as_deref()
                .is_none_or(|id| op.parent_id_is(id))
            && (self.metadata.is_empty()
                || op.metadata_has(|metadata| {
                    self.metadata
                        .iter()
                        .all(|(key, value)| metadata.get(key) == Some(value))
                }))
    }
}

/// `*` matches any run of characters, `?` one character, anything else itself.
pub(crate) fn glob_match(glob: &str, text: &str) -> bool {
    let (mut glob_rest, mut text_rest) = (glob, text);
    // After a `*`: the glob after it, and the text it would resume from if what follows fails.
    let mut retry: Option<(&str, &str)> = None;
    loop {
        let mut g = glob_rest.chars();
        let mut t = text_rest.chars();
        match (g.next(), t.next()) {
            (Some('*'), _) => {
                glob_rest = g.as_str();
                retry = Some((glob_rest, text_rest));
                continue;
            }
            (Some(wanted), Some(got)) if wanted == '?' || wanted == got => {
                glob_rest = g.as_str();
                text_rest = t.as_str();
                continue;
            }
            (None, None) => return true,
            _ => {}
        }
        match retry {
            Some((after_star, from)) => {
                let mut t = from.chars();
                if t.next().is_none() {
                    return false;
                }
                retry = Some((after_star, t.as_str()));
                glob_rest = after_star;
                text_rest = t.as_str();
            }
            None => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn globs() {
        let cases = [
            ("user_*", "user_export", true),
            ("user_*", "user_", true),
            ("user_*", "users", false),
            ("*_job", "nightly_job", true),
            ("*_job", "nightly_jobs", false),
            ("job_?", "job_1", true),
            ("job_?", "job_12", false),
            ("job_?", "job_é", true),
            ("*", "", true),
            ("", "", true),
            ("", "a", false),
            ("a*b*c", "aXbYbZc", true),
            ("a*b*c", "aXbYbZ", false),
            ("**", "anything", true),
            ("*a", "aaa", true),
            ("?*?", "ab", true),
            ("?*?", "a", false),
            ("User_*", "user_x", false),
        ];
        for (glob, text, expected) in cases {
            assert_eq!(glob_match(glob, text), expected, "{glob:?} on {text:?}");
        }
    }
}
