//! Dispatch rate limits of a subscription: its own limiter and the topic's shared one. Reads
//! are sized to the tokens left and wait while a bucket is empty, so a throttled consumer
//! still gets everything, only slower.

use std::sync::Arc;
use std::time::Duration;

use actix::{Context, Handler, Message};

use super::{actor::Dispatcher, state::Delivery};
use crate::{metadata::RateLimit, topic::RateLimiter};

/// The dispatch rates that apply to one subscription.
#[derive(Debug)]
pub struct Throttle {
    /// The subscription's own rate (`subscriptionDispatchRate`).
    own: Arc<RateLimiter>,
    /// The topic's rate, shared by all its subscriptions (`dispatchRate`).
    topic: Option<Arc<RateLimiter>>,
    /// A resume is scheduled.
    resume_pending: bool,
}

impl Default for Throttle {
    fn default() -> Self {
        Self {
            own: RateLimiter::new(None),
            topic: None,
            resume_pending: false,
        }
    }
}

impl Throttle {
    fn limiters(&self) -> impl Iterator<Item = &Arc<RateLimiter>> {
        std::iter::once(&self.own).chain(self.topic.iter())
    }

    /// How long to wait before reading again (`None`: read now).
    pub fn wait(&self) -> Option<Duration> {
        self.limiters().filter_map(|l| l.wait_time()).max()
    }

    /// Most messages to ask for now (`None`: no cap).
    pub fn cap(&self) -> Option<u64> {
        self.limiters().filter_map(|l| l.available_messages()).min()
    }

    /// Charges what was delivered.
    pub fn charge(&self, deliveries: &[Delivery]) {
        let messages: u64 = deliveries
            .iter()
            .map(|d| u64::from(d.entry.meta.num_messages.max(1)))
            .sum();
        let bytes: u64 = deliveries.iter().map(|d| d.entry.data.len() as u64).sum();
        for limiter in self.limiters() {
            limiter.consume(messages, bytes);
        }
    }
}

/// The subscription's dispatch rates changed.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct SetDispatchThrottle {
    /// The subscription's own rate (`None`: unlimited).
    pub own: Option<RateLimit>,
    /// The topic's shared limiter.
    pub topic: Option<Arc<RateLimiter>>,
}

/// A throttled dispatcher's wait is over.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub(super) struct ResumeDispatch;

impl Throttle {
    /// The cap for the next reads, or `None` with a resume scheduled when a bucket is empty
    /// (`me` gets [`ResumeDispatch`] once it has refilled).
    pub(super) fn admit(&mut self, me: &actix::Addr<Dispatcher>) -> Option<Option<u64>> {
        match self.wait() {
            None => Some(self.cap()),
            Some(wait) => {
                if !self.resume_pending {
                    self.resume_pending = true;
                    let me = me.clone();
                    actix_rt::spawn(async move {
                        tokio::time::sleep(wait).await;
                        me.do_send(ResumeDispatch);
                    });
                }
                None
            }
        }
    }
}

impl Handler<SetDispatchThrottle> for Dispatcher {
    type Result = ();

    fn handle(&mut self, msg: SetDispatchThrottle, ctx: &mut Context<Self>) {
        self.throttle.own.set_limit(msg.own);
        self.throttle.topic = msg.topic;
        self.pump(ctx);
    }
}

impl Handler<ResumeDispatch> for Dispatcher {
    type Result = ();

    fn handle(&mut self, _msg: ResumeDispatch, ctx: &mut Context<Self>) {
        self.throttle.resume_pending = false;
        self.pump(ctx);
    }
}
