//! Looking through the invisible groups that `macro_rules!` puts around an
//! interpolated `$x:expr` or `$t:ty`, so that a check sees what the user wrote.

use syn::{Expr, Type};

/// `expr` without its invisible groups. Parentheses stay: `(x)` is an
/// expression the user wrote.
pub(crate) fn expr(mut expr: &Expr) -> &Expr {
    while let Expr::Group(group) = expr {
        expr = &group.expr;
    }
    expr
}

/// `ty` without its invisible groups and parentheses: `(&Cancelable)` is the
/// same type as `&Cancelable`.
pub(crate) fn ty(mut ty: &Type) -> &Type {
    loop {
        match ty {
            Type::Group(group) => ty = &group.elem,
            Type::Paren(paren) => ty = &paren.elem,
            _ => return ty,
        }
    }
}
