//! Deadlines across hops (`cancelable::propagation`): the client layer on the paused clock,
//! then real stacks on 127.0.0.1 (hyper and axum, tonic).

mod client;
mod grpc;
mod http;
