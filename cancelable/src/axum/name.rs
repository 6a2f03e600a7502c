//! The default name of a request's operation, `"METHOD /route/{template}"`: made once per route
//! and method, then shared by every request of that route, with no allocation.
//!
//! # Invariants
//!
//! 1. A name is kept for the life of the process only for a route template (axum's
//!    [`MatchedPath`], which comes from the application's code, never from a request) and a
//!    standard method, and at most [`MAX_SHARED`] of them in the process: what is kept is
//!    bounded whatever the requests. Any other request (a path without a template, an
//!    extension method, past the limit) gets a name of its own, freed with its operation.
//! 2. A layer's service looks a name up by the method and the template: by the template's
//!    address, which it compares only with the template it holds (so that address cannot be
//!    reused for another text while it does), else by the template's text; so a name always
//!    matches its request.
//! 3. Nothing is locked to look up a name a service has met: its names are set once each, in
//!    order, and read with one load each. The process-wide table is locked only when a service
//!    meets a name for the first time (at most [`MAX_PER_SERVICE`] times in its life), never on
//!    every request.

use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::{LazyLock, Mutex, OnceLock, PoisonError};

use ::axum::extract::MatchedPath;
use http::{Extensions, Method, Uri};

/// Names kept in the whole process, at most (invariant 1).
const MAX_SHARED: usize = 1024;
/// Names a service remembers, at most: a service usually serves one route, with a few methods.
const MAX_PER_SERVICE: usize = 16;

/// The names kept for the life of the process (invariant 1).
static SHARED: LazyLock<Mutex<HashSet<&'static str>>> = LazyLock::new(Mutex::default);

/// The names one service has used, for the requests that follow.
pub(super) struct RouteNames {
    /// Filled from the front, each slot once (invariant 3); boxed, so that a service that
    /// meets one name holds one.
    seen: [OnceLock<Box<Seen>>; MAX_PER_SERVICE],
}

impl Default for RouteNames {
    fn default() -> Self {
        RouteNames {
            seen: [const { OnceLock::new() }; MAX_PER_SERVICE],
        }
    }
}

struct Seen {
    method: Method,
    /// Held, so that its address stays its own (invariant 2).
    route: MatchedPath,
    /// `"GET /users/{id}"`.
    name: &'static str,
}

impl Seen {
    #[inline]
    fn matches(&self, method: &Method, route: &str) -> bool {
        let held = self.route.as_str();
        self.method == *method && (std::ptr::eq(held, route) || held == route)
    }
}

impl RouteNames {
    /// The name of a request with `method`, `uri` and `extensions` (where axum puts the
    /// route's [`MatchedPath`]).
    pub(super) fn name(
        &self,
        method: &Method,
        uri: &Uri,
        extensions: &Extensions,
    ) -> Cow<'static, str> {
        let Some(route) = extensions.get::<MatchedPath>() else {
            return Cow::Owned(join(method, uri.path()));
        };
        for (at, slot) in self.seen.iter().enumerate() {
            match slot.get() {
                Some(seen) if seen.matches(method, route.as_str()) => {
                    return Cow::Borrowed(seen.name);
                }
                Some(_) => {}
                None => return self.learn(at, method, route),
            }
        }
        // Not the process-wide lock on every request of a service with many routes.
        Cow::Owned(join(method, route.as_str()))
    }

    /// The name of a route this service has not met (in the slots before `from`).
    #[cold]
    #[inline(never)]
    fn learn(&self, from: usize, method: &Method, route: &MatchedPath) -> Cow<'static, str> {
        let name = match share(join(method, route.as_str()), method) {
            Ok(name) => name,
            Err(own) => return Cow::Owned(own),
        };
        for slot in &self.seen[from..] {
            let seen = slot.get_or_init(|| {
                Box::new(Seen {
                    method: method.clone(),
                    route: route.clone(),
                    name,
                })
            });
            // Set now, or by a request of the same route on another thread.
            if seen.matches(method, route.as_str()) {
                break;
            }
        }
        Cow::Borrowed(name)
    }
}

/// `name` kept for the life of the process, if it may be (invariant 1), else given back.
fn share(name: String, method: &Method) -> Result<&'static str, String> {
    let standard = [
        Method::GET,
        Method::POST,
        Method::PUT,
        Method::DELETE,
        Method::HEAD,
        Method::OPTIONS,
        Method::CONNECT,
        Method::PATCH,
        Method::TRACE,
    ]
    .contains(method);
    if !standard {
        return Err(name);
    }
    let mut shared = SHARED.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(&kept) = shared.get(name.as_str()) {
        return Ok(kept);
    }
    if shared.len() >= MAX_SHARED {
        return Err(name);
    }
    let kept: &'static str = Box::leak(name.into_boxed_str());
    shared.insert(kept);
    Ok(kept)
}

/// `"METHOD route"`. Not `format!`: a third of the layer's cost went there.
fn join(method: &Method, route: &str) -> String {
    let method = method.as_str();
    let mut name = String::with_capacity(method.len() + 1 + route.len());
    name.push_str(method);
    name.push(' ');
    name.push_str(route);
    name
}

#[cfg(test)]
mod tests {
    use ::axum::Router;
    use ::axum::routing::any;
    use tower::ServiceExt;

    use super::*;

    /// The route's `MatchedPath`, as axum puts it in a request to `route` at `path`.
    async fn matched(route: &str, path: &str) -> MatchedPath {
        let app: Router = Router::new().route(
            route,
            any(|path: MatchedPath| async move {
                let mut response = ::axum::response::Response::new(::axum::body::Body::empty());
                response.extensions_mut().insert(path);
                response
            }),
        );
        let request = http::Request::get(path).body(::axum::body::Body::empty());
        let response = app.oneshot(request.unwrap()).await.unwrap();
        response.extensions().get::<MatchedPath>().unwrap().clone()
    }

    fn routed(path: MatchedPath) -> Extensions {
        let mut extensions = Extensions::new();
        extensions.insert(path);
        extensions
    }

    #[tokio::test]
    async fn a_route_name_is_made_once_and_shared() {
        let names = RouteNames::default();
        let users = routed(matched("/users/{id}", "/users/7").await);
        let uri: Uri = "/users/7".parse().unwrap();
        let first = names.name(&Method::GET, &uri, &users);
        assert_eq!(first, "GET /users/{id}");
        let Cow::Borrowed(first) = first else {
            panic!("a route's name is shared");
        };
        let Cow::Borrowed(again) = names.name(&Method::GET, &uri, &users) else {
            panic!("a route's name is shared");
        };
        assert!(std::ptr::eq(first, again));
        // Another service, the same route: the same name.
        let Cow::Borrowed(other) = RouteNames::default().name(&Method::GET, &uri, &users) else {
            panic!("a route's name is shared");
        };
        assert!(std::ptr::eq(first, other));
        assert_eq!(names.name(&Method::POST, &uri, &users), "POST /users/{id}");
        let teams = routed(matched("/teams/{id}", "/teams/7").await);
        assert_eq!(names.name(&Method::GET, &uri, &teams), "GET /teams/{id}");
        // The same template from another router (another address): the same name.
        let again = routed(matched("/users/{id}", "/users/8").await);
        let Cow::Borrowed(again) = names.name(&Method::GET, &uri, &again) else {
            panic!("a route's name is shared");
        };
        assert!(std::ptr::eq(first, again));
    }

    #[tokio::test]
    async fn a_service_past_its_limit_names_each_request_anew() {
        let names = RouteNames::default();
        let uri: Uri = "/".parse().unwrap();
        for i in 0..MAX_PER_SERVICE {
            let route = routed(matched(&format!("/limit/{i}"), &format!("/limit/{i}")).await);
            assert!(matches!(
                names.name(&Method::GET, &uri, &route),
                Cow::Borrowed(_)
            ));
        }
        let past = routed(matched("/limit/past", "/limit/past").await);
        let name = names.name(&Method::GET, &uri, &past);
        assert_eq!(name, "GET /limit/past");
        assert!(matches!(name, Cow::Owned(_)));
        // The routes it met keep their names.
        let first = routed(matched("/limit/0", "/limit/0").await);
        assert!(matches!(
            names.name(&Method::GET, &uri, &first),
            Cow::Borrowed(_)
        ));
    }

    #[tokio::test]
    async fn a_path_or_an_extension_method_gets_a_name_of_its_own() {
        let names = RouteNames::default();
        let uri: Uri = "/users/7?x=1".parse().unwrap();
        let name = names.name(&Method::GET, &uri, &Extensions::new());
        assert_eq!(name, "GET /users/7");
        assert!(matches!(name, Cow::Owned(_)));
        let users = routed(matched("/users/{id}", "/users/7").await);
        let purge = Method::from_bytes(b"PURGE").unwrap();
        let name = names.name(&purge, &uri, &users);
        assert_eq!(name, "PURGE /users/{id}");
        assert!(matches!(name, Cow::Owned(_)));
    }
}
