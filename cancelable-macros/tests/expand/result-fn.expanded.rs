// Input:
//
// #[cancelable(timeout = "30s")]
// async fn fetch(id: u64, cancel: &Cancelable) -> Result<u32, E> {
//     Ok(1)
// }
//
// Output:

async fn fetch(id: u64) -> Result<u32, E> {
    let __cancelable_op = ::cancelable::__private::timeout_operation(
        "fetch",
        ::core::time::Duration::from_millis(30000u64),
    );
    let cancel: &Cancelable = &__cancelable_op;
    ::cancelable::__private::try_run(
            &__cancelable_op,
            async move {
                #[allow(
                    unknown_lints,
                    unreachable_code,
                    clippy::diverging_sub_expression,
                    clippy::empty_loop,
                    clippy::let_unit_value,
                    clippy::let_with_type_underscore,
                    clippy::needless_return,
                    clippy::unreachable
                )]
                if false {
                    let __cancelable_fake_return: Result<u32, E> = loop {};
                    return __cancelable_fake_return;
                }
                Ok(1)
            },
            ::core::convert::From::from,
            ::core::fmt::Display::fmt,
        )
        .await
}
