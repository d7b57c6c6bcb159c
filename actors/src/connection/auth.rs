//! Authentication of a connection: credentials checked before CONNECTED, refreshed through
//! AUTH_CHALLENGE before they expire; authorization checks and per-connection limits.

use std::{
    collections::HashMap,
    sync::{atomic::AtomicUsize, Arc},
    time::{Duration, SystemTime},
};

use actix::{fut::wrap_future, ActorFutureExt, AsyncContext, Context, SpawnHandle};
use geminga_protocol::{
    commands,
    proto::{CommandAuthResponse, ServerError},
};
use rustls_pki_types::CertificateDer;
use tracing::{info, warn};

use super::actor::Connection;
use crate::{
    error::RequestError,
    producer::PublishGate,
    security::{AccessCheck, AuthError, ConnectionPermit, Identity, LookupPermit, Security},
};

/// The challenge bytes real Pulsar sends; no client inspects them.
const REFRESH_MARKER: &[u8] = b"PulsarAuthRefresh";
/// How long a client may take to answer AUTH_CHALLENGE after its credentials expired.
const REFRESH_GRACE: Duration = Duration::from_secs(5);
/// Refresh at most this long before expiry (and at most a fifth of the remaining lifetime).
const REFRESH_EARLY_MAX: Duration = Duration::from_secs(60);

/// A connection's security state.
#[derive(Debug)]
pub(crate) struct ConnectionAuth {
    pub(super) security: Arc<Security>,
    /// The client's TLS certificate chain, when it connected over TLS with one.
    pub(super) peer_certificates: Option<Vec<CertificateDer<'static>>>,
    /// Who the client is; `None` before CONNECT, or with authentication off and no
    /// anonymous role.
    pub(super) identity: Option<Identity>,
    /// The client handles AUTH_CHALLENGE (C++ advertises it; pulsar-rs handles it unasked).
    pub(super) supports_refresh: bool,
    /// The next refresh or expiry action.
    timer: Option<SpawnHandle>,
    /// Lookups in flight on this connection.
    pub(super) lookups: Arc<AtomicUsize>,
    /// Pending-send counters per producer id (children of the connection's gate).
    pub(super) producer_gates: HashMap<u64, Arc<PublishGate>>,
    /// This connection's place under the connection limits.
    _permit: Option<ConnectionPermit>,
}

impl ConnectionAuth {
    pub(super) fn new(
        security: Arc<Security>,
        peer_certificates: Option<Vec<CertificateDer<'static>>>,
        permit: Option<ConnectionPermit>,
    ) -> Self {
        Self {
            security,
            peer_certificates,
            identity: None,
            supports_refresh: false,
            timer: None,
            lookups: Arc::new(AtomicUsize::new(0)),
            producer_gates: HashMap::new(),
            _permit: permit,
        }
    }
}

impl Connection {
    /// Authenticates CONNECT's credentials (on the blocking pool: key checks may be slow),
    /// holding every later frame back until it is done; then answers CONNECTED or
    /// ERROR(AuthenticationError) and closes.
    pub(super) fn authenticate_connect(
        &mut self,
        method: Option<String>,
        data: Vec<u8>,
        ctx: &mut Context<Self>,
    ) {
        let security = self.auth.security.clone();
        if security.authentication.is_none() {
            let identity = security.anonymous_role.clone().map(|role| Identity {
                role,
                method: "none".to_owned(),
                expires_at: None,
            });
            return self.finish_connect(Ok(identity), ctx);
        }
        let certificates = self.auth.peer_certificates.clone();
        let work = actix_rt::task::spawn_blocking(move || {
            authenticate(&security, method.as_deref(), &data, certificates.as_deref())
        });
        let fut = wrap_future::<_, Self>(work).map(|joined, act, ctx| {
            let result = joined.unwrap_or_else(|_| {
                Err(AuthError::invalid("any", "the authentication task failed"))
            });
            act.finish_connect(result.map(Some), ctx);
        });
        ctx.wait(fut);
    }

    fn finish_connect(
        &mut self,
        result: Result<Option<Identity>, AuthError>,
        ctx: &mut Context<Self>,
    ) {
        match result {
            Ok(identity) => {
                if let Some(identity) = &identity {
                    info!(parent: &self.span, role = %identity.role, method = %identity.method, "authenticated");
                }
                self.auth.identity = identity;
                self.send_connected();
                self.schedule_refresh(ctx);
            }
            Err(e) => self.refuse_authentication(&e, ctx),
        }
    }

    /// ERROR(AuthenticationError) with request id -1, then close (what real Pulsar does).
    fn refuse_authentication(&mut self, e: &AuthError, ctx: &mut Context<Self>) {
        warn!(parent: &self.span, error = %e, "authentication failed; closing");
        self.close_with_error(ServerError::AuthenticationError, e.to_string(), ctx);
    }

    /// Arms the refresh (clients that handle AUTH_CHALLENGE) or the close at expiry.
    fn schedule_refresh(&mut self, ctx: &mut Context<Self>) {
        if let Some(timer) = self.auth.timer.take() {
            ctx.cancel_future(timer);
        }
        let Some(left) = self.credentials_left() else {
            return;
        };
        let timer = if self.auth.supports_refresh {
            let early = (left / 5).min(REFRESH_EARLY_MAX);
            ctx.run_later(left.saturating_sub(early), |act, ctx| act.challenge(ctx))
        } else {
            ctx.run_later(left, |act, ctx| act.credentials_expired(ctx))
        };
        self.auth.timer = Some(timer);
    }

    /// Time until the credentials expire; `None` when they never do.
    fn credentials_left(&self) -> Option<Duration> {
        let expires_at = self.auth.identity.as_ref()?.expires_at?;
        Some(
            expires_at
                .duration_since(SystemTime::now())
                .unwrap_or(Duration::ZERO),
        )
    }

    fn challenge(&mut self, ctx: &mut Context<Self>) {
        let Some(identity) = &self.auth.identity else {
            return;
        };
        info!(parent: &self.span, role = %identity.role, "credentials expire soon; AUTH_CHALLENGE");
        self.send(commands::auth_challenge(
            identity.method.clone(),
            REFRESH_MARKER.to_vec(),
        ));
        let deadline = self.credentials_left().unwrap_or(Duration::ZERO) + REFRESH_GRACE;
        self.auth.timer = Some(ctx.run_later(deadline, |act, ctx| act.credentials_expired(ctx)));
    }

    fn credentials_expired(&mut self, ctx: &mut Context<Self>) {
        let e = AuthError::Expired {
            method: self
                .auth
                .identity
                .as_ref()
                .map_or_else(String::new, |i| i.method.clone()),
        };
        self.refuse_authentication(&e, ctx);
    }

    /// AUTH_RESPONSE: fresh credentials; the role must stay the same.
    pub(super) fn on_auth_response(&mut self, c: CommandAuthResponse, ctx: &mut Context<Self>) {
        let security = self.auth.security.clone();
        let Some(current) = self.auth.identity.clone() else {
            return;
        };
        if security.authentication.is_none() {
            return;
        }
        let response = c.response.unwrap_or_default();
        let method = response
            .auth_method_name
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| current.method.clone());
        let data = response.auth_data.unwrap_or_default();
        let certificates = self.auth.peer_certificates.clone();
        let work = actix_rt::task::spawn_blocking(move || {
            authenticate(&security, Some(&method), &data, certificates.as_deref())
        });
        let fut = wrap_future::<_, Self>(work).map(move |joined, act, ctx| {
            let result = joined
                .unwrap_or_else(|_| {
                    Err(AuthError::invalid("any", "the authentication task failed"))
                })
                .and_then(|identity| {
                    if identity.role == current.role {
                        Ok(identity)
                    } else {
                        Err(AuthError::invalid(
                            &identity.method,
                            "the role may not change when credentials are refreshed",
                        ))
                    }
                });
            match result {
                Ok(identity) => {
                    info!(parent: &act.span, role = %identity.role, "credentials refreshed");
                    act.auth.identity = Some(identity);
                    act.schedule_refresh(ctx);
                }
                Err(e) => act.refuse_authentication(&e, ctx),
            }
        });
        ctx.wait(fut);
    }

    /// The client's permissions, to check on the blocking pool.
    pub(super) fn access(&self) -> AccessCheck {
        AccessCheck::new(
            self.auth.security.clone(),
            self.broker.metadata().clone(),
            self.auth.identity.as_ref().map(|i| i.role.clone()),
        )
    }

    /// A place for one more lookup, or the limit that refuses it.
    pub(super) fn begin_lookup(&self) -> Result<LookupPermit, RequestError> {
        let security = &self.auth.security;
        let limit = security.limits.max_lookups_per_connection;
        let in_flight = self.auth.lookups.load(std::sync::atomic::Ordering::Acquire);
        if limit > 0 && in_flight >= limit {
            return Err(RequestError::TooManyRequests {
                reason: format!(
                    "{in_flight} lookups in flight on this connection, {limit} allowed \
                     (maxPendingLookupRequestsPerConnection)"
                ),
            });
        }
        security
            .lookups
            .acquire()
            .map(|permit| permit.counting(self.auth.lookups.clone()))
            .map_err(|e| RequestError::TooManyRequests {
                reason: e.to_string(),
            })
    }

    /// The pending-send counter of `producer_id`, feeding the connection's gate.
    pub(super) fn producer_gate(&mut self, producer_id: u64) -> Arc<PublishGate> {
        let gate = PublishGate::child(
            self.gate.clone(),
            self.auth.security.limits.max_pending_sends_per_producer,
        );
        self.auth.producer_gates.insert(producer_id, gate.clone());
        gate
    }

    /// Refuses a SEND when its producer has too many SENDs pending.
    pub(super) fn check_pending_sends(&self, producer_id: u64) -> Result<(), RequestError> {
        let limit = self.auth.security.limits.max_pending_sends_per_producer;
        match self.auth.producer_gates.get(&producer_id) {
            Some(gate) if limit > 0 && gate.in_flight() >= limit => {
                Err(RequestError::TooManyRequests {
                    reason: format!(
                        "producer {producer_id} has {} sends pending, {limit} allowed \
                         (maxPendingSendsPerProducer)",
                        gate.in_flight()
                    ),
                })
            }
            _ => Ok(()),
        }
    }
}

/// Runs the authenticator (blocking).
fn authenticate(
    security: &Security,
    method: Option<&str>,
    data: &[u8],
    certificates: Option<&[CertificateDer<'static>]>,
) -> Result<Identity, AuthError> {
    match &security.authentication {
        Some(authenticator) => authenticator.authenticate(
            method,
            data,
            certificates,
            security.anonymous_role.as_deref(),
        ),
        None => Err(AuthError::Missing),
    }
}
