// Input:
//
// #[cancelable()]
// pub async fn f() -> u32 {
//     1
// }
//
// Output:

pub async fn f() -> ::core::result::Result<
    u32,
    ::cancelable::__private::CancellationError,
> {
    let __cancelable_op = ::cancelable::__private::OperationBuilder::new("f").build();
    ::cancelable::__private::run(
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
                    let __cancelable_fake_return: u32 = loop {};
                    return __cancelable_fake_return;
                }
                1
            },
        )
        .await
}
