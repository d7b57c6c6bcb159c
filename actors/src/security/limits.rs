//! Limits that keep one client from using up the broker: connections in total and per
//! address, lookups in flight, SENDs pending per producer.

use std::{
    collections::HashMap,
    net::IpAddr,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc, Mutex, PoisonError,
    },
};

use thiserror::Error;

/// The configured limits; 0 means unlimited.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Limits {
    /// Open client connections (`brokerMaxConnections`).
    pub max_connections: usize,
    /// Open client connections from one IP address (`brokerMaxConnectionsPerIp`).
    pub max_connections_per_ip: usize,
    /// Lookups (LOOKUP, PARTITIONED_METADATA, GET_TOPICS_OF_NAMESPACE) in flight broker-wide
    /// (`maxConcurrentLookupRequest`).
    pub max_concurrent_lookups: usize,
    /// Lookups in flight on one connection (geminga key `maxPendingLookupRequestsPerConnection`).
    pub max_lookups_per_connection: usize,
    /// SENDs without a receipt on one producer (geminga key `maxPendingSendsPerProducer`).
    pub max_pending_sends_per_producer: usize,
}

/// A limit that refused a connection or a request.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum LimitExceeded {
    /// The broker has `limit` connections open.
    #[error("too many connections: the broker allows {limit} (brokerMaxConnections)")]
    Connections {
        /// The limit.
        limit: usize,
    },
    /// This address has `limit` connections open.
    #[error(
        "too many connections from {ip}: {limit} allowed per address (brokerMaxConnectionsPerIp)"
    )]
    ConnectionsPerIp {
        /// The client's address.
        ip: IpAddr,
        /// The limit.
        limit: usize,
    },
    /// `limit` lookups are in flight broker-wide.
    #[error(
        "too many lookups in flight on the broker: {limit} allowed (maxConcurrentLookupRequest)"
    )]
    Lookups {
        /// The limit.
        limit: usize,
    },
}

/// Counts open connections. Each admitted connection holds a [`ConnectionPermit`].
#[derive(Debug, Default)]
pub struct ConnectionLimiter {
    max_total: usize,
    max_per_ip: usize,
    total: AtomicUsize,
    per_ip: Mutex<HashMap<IpAddr, usize>>,
}

impl ConnectionLimiter {
    /// A limiter with these limits (0 = unlimited).
    pub fn new(max_total: usize, max_per_ip: usize) -> Arc<Self> {
        Arc::new(Self {
            max_total,
            max_per_ip,
            ..Self::default()
        })
    }

    /// Admits a connection from `ip`, or says which limit it hits.
    ///
    /// # Errors
    /// [`LimitExceeded`] when the broker or the address is at its limit.
    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<ConnectionPermit, LimitExceeded> {
        let mut per_ip = self.per_ip.lock().unwrap_or_else(PoisonError::into_inner);
        let total = self.total.load(Ordering::Acquire);
        if self.max_total > 0 && total >= self.max_total {
            return Err(LimitExceeded::Connections {
                limit: self.max_total,
            });
        }
        let count = per_ip.entry(ip).or_insert(0);
        if self.max_per_ip > 0 && *count >= self.max_per_ip {
            return Err(LimitExceeded::ConnectionsPerIp {
                ip,
                limit: self.max_per_ip,
            });
        }
        *count += 1;
        self.total.fetch_add(1, Ordering::AcqRel);
        Ok(ConnectionPermit {
            limiter: self.clone(),
            ip,
        })
    }

    /// Open connections.
    pub fn open(&self) -> usize {
        self.total.load(Ordering::Acquire)
    }

    fn release(&self, ip: IpAddr) {
        let mut per_ip = self.per_ip.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = per_ip.get_mut(&ip) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                per_ip.remove(&ip);
            }
        }
        let _ = self
            .total
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |v| {
                Some(v.saturating_sub(1))
            });
    }
}

/// One open connection; dropping it frees its place.
#[derive(Debug)]
pub struct ConnectionPermit {
    limiter: Arc<ConnectionLimiter>,
    ip: IpAddr,
}

impl Drop for ConnectionPermit {
    fn drop(&mut self) {
        self.limiter.release(self.ip);
    }
}

/// Counts lookups in flight broker-wide.
#[derive(Debug, Default)]
pub struct LookupLimiter {
    max: usize,
    in_flight: AtomicUsize,
}

impl LookupLimiter {
    /// A limiter allowing `max` lookups at once (0 = unlimited).
    pub fn new(max: usize) -> Arc<Self> {
        Arc::new(Self {
            max,
            in_flight: AtomicUsize::new(0),
        })
    }

    /// Takes a place for one lookup.
    ///
    /// # Errors
    /// [`LimitExceeded::Lookups`] at the limit.
    pub fn acquire(self: &Arc<Self>) -> Result<LookupPermit, LimitExceeded> {
        let max = self.max;
        self.in_flight
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |v| {
                (max == 0 || v < max).then_some(v + 1)
            })
            .map_err(|_| LimitExceeded::Lookups { limit: max })?;
        Ok(LookupPermit {
            limiter: Some(self.clone()),
            connection: None,
        })
    }

    /// Lookups in flight.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Acquire)
    }
}

/// One lookup in flight (broker-wide and on its connection); dropping it frees both places.
#[derive(Debug)]
pub struct LookupPermit {
    limiter: Option<Arc<LookupLimiter>>,
    connection: Option<Arc<AtomicUsize>>,
}

impl LookupPermit {
    /// Also counts the lookup in `counter` (a connection's), until the permit drops.
    pub fn counting(mut self, counter: Arc<AtomicUsize>) -> Self {
        counter.fetch_add(1, Ordering::AcqRel);
        self.connection = Some(counter);
        self
    }
}

impl Drop for LookupPermit {
    fn drop(&mut self) {
        for counter in [
            self.limiter.as_ref().map(|l| &l.in_flight),
            self.connection.as_deref(),
        ]
        .into_iter()
        .flatten()
        {
            let _ = counter.fetch_update(Ordering::AcqRel, Ordering::Acquire, |v| {
                Some(v.saturating_sub(1))
            });
        }
    }
}
