// Input:
//
// #[cancelable(
//     signal = ["SIGINT",
//     "SIGTERM"],
//     name = "custom",
//     token = self.shutdown.clone(),
//     condition = ||false,
//     grace = "5s",
//     parent = &outer,
//     register,
//     crate = "my::cancelable"
// )]
// async fn f(&self) {}
//
// Output:

async fn f(
    &self,
) -> ::core::result::Result<(), my::cancelable::__private::CancellationError> {
    let __cancelable_op = my::cancelable::__private::signals!(
        my::cancelable::__private::OperationBuilder::new("custom"), [Int, Term]
    )
        .token(self.shutdown.clone())
        .condition(|| false, ::core::time::Duration::from_millis(100u64))
        .grace(::core::time::Duration::from_millis(5000u64))
        .parent(&outer)
        .register()
        .build();
    my::cancelable::__private::run(
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
                    let __cancelable_fake_return: () = loop {};
                    return __cancelable_fake_return;
                }
            },
        )
        .await
}
