//! [`OutOfLine`]: an optional box dropped out of line.
//!
//! The parts of an operation and of its run that most never have (the rarer sources, armed
//! signals and conditions, a kept body) live in boxes. Left to itself, the drop glue of the
//! struct that holds such a box inlines the box's own glue, or calls it: either way the common,
//! empty case pays for the rare one. An `OutOfLine` costs that case one check, and sends the
//! rest to a cold function.

/// An optional box whose contents are dropped by a cold function (see the module docs).
pub(crate) struct OutOfLine<T>(Option<Box<T>>);

impl<T> OutOfLine<T> {
    #[inline]
    pub(crate) fn new(value: Option<Box<T>>) -> Self {
        OutOfLine(value)
    }

    #[inline]
    pub(crate) fn is_none(&self) -> bool {
        self.0.is_none()
    }

    #[inline]
    pub(crate) fn as_deref(&self) -> Option<&T> {
        self.0.as_deref()
    }

    #[inline]
    pub(crate) fn as_deref_mut(&mut self) -> Option<&mut T> {
        self.0.as_deref_mut()
    }

    #[inline]
    pub(crate) fn get_or_insert_with(&mut self, make: impl FnOnce() -> Box<T>) -> &mut T {
        self.0.get_or_insert_with(make)
    }

    /// Moves the box out, leaving none.
    #[inline]
    pub(crate) fn take(&mut self) -> Option<Box<T>> {
        self.0.take()
    }

    /// Drops the contents now.
    #[inline]
    pub(crate) fn clear(&mut self) {
        if let Some(value) = self.0.take() {
            drop_cold(value);
        }
    }
}

impl<T> Default for OutOfLine<T> {
    fn default() -> Self {
        OutOfLine(None)
    }
}

impl<T> Drop for OutOfLine<T> {
    #[inline]
    fn drop(&mut self) {
        self.clear();
    }
}

#[cold]
#[inline(never)]
fn drop_cold<T>(value: Box<T>) {
    drop(value);
}
