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
//! 2. A layer looks a name up by the method and the template: by the template's address,
//!    which it compares only with the template it holds (so that address cannot be reused for
//!    another text while it does), else by the template's text; so a name always matches its
//!    request.
//! 3. Nothing is locked to look up a name a layer has met: its table's slots are set once
//!    each and read with one load each, at most [`MAX_PROBES`] of them per request, from the
//!    slot the template's address picks. The process-wide table is locked only when a layer
//!    meets a name for the first time (at most [`SLOTS`] times in its life), never on every
//!    request.

use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::{LazyLock, Mutex, OnceLock, PoisonError};

use ::axum::extract::MatchedPath;
use http::{Extensions, Method, Uri};

/// Names kept in the whole process, at most (invariant 1).
const MAX_SHARED: usize = 1024;
/// Names a layer remembers, at most: the routes it wraps, each with a few methods.
const SLOTS: usize = 128;
/// Slots a lookup looks at, at most (invariant 3).
const MAX_PROBES: usize = 8;

/// The names kept for the life of the process (invariant 1).
static SHARED: LazyLock<Mutex<HashSet<&'static str>>> = LazyLock::new(Mutex::default);

/// The names the services of one layer have used, for the requests that follow.
pub(super) struct RouteNames {
    /// Set once each (invariant 3); boxed, so that an empty slot is one word and a lock.
    seen: [OnceLock<Box<Seen>>; SLOTS],
}

impl Default for RouteNames {
    fn default() -> Self {
        RouteNames {
            seen: [const { OnceLock::new() }; SLOTS],
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

/// Where the lookup of `route` starts: every request of a route has the same template, at
/// the same address (its methods take the slots that follow).
#[inline]
fn first_slot(route: &str) -> usize {
    let address = route.as_ptr() as usize;
    ((address >> 4) ^ (address >> 12)) % SLOTS
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
        let first = first_slot(route.as_str());
        for probe in 0..MAX_PROBES {
            match self.seen[(first + probe) % SLOTS].get() {
                Some(seen) if seen.matches(method, route.as_str()) => {
                    return Cow::Borrowed(seen.name);
                }
                Some(_) => {}
                None => return self.learn(first, probe, method, route),
            }
        }
        // Not the process-wide lock on every request of a layer with that many routes.
        Cow::Owned(join(method, route.as_str()))
    }

    /// The name of a route this layer has not met, in the slots from `first + probe` on.
    #[cold]
    #[inline(never)]
    fn learn(
        &self,
        first: usize,
        probe: usize,
        method: &Method,
        route: &MatchedPath,
    ) -> Cow<'static, str> {
        let name = match share(join(method, route.as_str()), method) {
            Ok(name) => name,
            Err(own) => return Cow::Owned(own),
        };
        for probe in probe..MAX_PROBES {
            let seen = self.seen[(first + probe) % SLOTS].get_or_init(|| {
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
    async fn a_layer_past_its_limit_names_each_request_anew() {
        let names = RouteNames::default();
        let uri: Uri = "/".parse().unwrap();
        let mut routes = Vec::new();
        let mut kept = 0;
        for i in 0..SLOTS + MAX_PROBES {
            let route = routed(matched(&format!("/limit/{i}"), &format!("/limit/{i}")).await);
            let name = names.name(&Method::GET, &uri, &route);
            assert_eq!(name, format!("GET /limit/{i}"));
            kept += usize::from(matches!(name, Cow::Borrowed(_)));
            routes.push(route);
        }
        assert!(kept <= SLOTS, "{kept}");
        assert!(kept > SLOTS / 2, "{kept}");
        // The names it kept are found again, each one right.
        for (i, route) in routes.iter().enumerate() {
            assert_eq!(
                names.name(&Method::GET, &uri, route),
                format!("GET /limit/{i}")
            );
        }
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
