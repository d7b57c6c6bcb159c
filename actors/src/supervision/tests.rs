//! Actor-level tests of the panic-catching supervisor.

use std::{
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc, Mutex,
    },
    time::Duration,
};

use actix::{Actor, ActorContext, Arbiter, Context, Handler, Message, Supervised};

use super::*;

/// A counter that can be told to panic or to stop.
struct Counter {
    lifecycle: Lifecycle,
    count: usize,
    starts: Arc<AtomicUsize>,
}

impl Actor for Counter {
    type Context = Context<Self>;

    fn started(&mut self, _ctx: &mut Context<Self>) {
        self.starts.fetch_add(1, Ordering::SeqCst);
    }
}

impl Supervised for Counter {
    fn restarting(&mut self, _ctx: &mut Context<Self>) {
        self.count = 0;
    }
}

#[derive(Message)]
#[rtype(result = "usize")]
struct Bump;

#[derive(Message)]
#[rtype(result = "()")]
struct Boom;

#[derive(Message)]
#[rtype(result = "()")]
struct Quit {
    retire: bool,
}

impl Handler<Bump> for Counter {
    type Result = usize;
    fn handle(&mut self, _: Bump, _: &mut Context<Self>) -> usize {
        self.count += 1;
        self.count
    }
}

impl Handler<Boom> for Counter {
    type Result = ();
    fn handle(&mut self, _: Boom, _: &mut Context<Self>) {
        panic!("injected test panic");
    }
}

impl Handler<Quit> for Counter {
    type Result = ();
    fn handle(&mut self, msg: Quit, ctx: &mut Context<Self>) {
        if msg.retire {
            self.lifecycle.retire();
        }
        ctx.stop();
    }
}

fn spec(
    tracker: &Arc<ActorTracker>,
    budget: RestartBudget,
    exits: Arc<Mutex<Vec<ExitReason>>>,
) -> SupervisorSpec {
    SupervisorSpec {
        kind: ActorKind::Topic,
        name: "counter".into(),
        parent: None,
        budget,
        restart: true,
        tracker: tracker.clone(),
        on_exit: Some(Box::new(move |reason| exits.lock().unwrap().push(reason))),
    }
}

fn start(spec: SupervisorSpec, starts: Arc<AtomicUsize>) -> actix::Addr<Counter> {
    supervise(&Arbiter::current(), spec, move |_ctx, lifecycle| Counter {
        lifecycle,
        count: 0,
        starts,
    })
}

/// Goal: a panic in a handler restarts the actor with a clean state and the same address.
#[actix::test]
async fn a_panicking_handler_is_restarted_and_keeps_serving() {
    let tracker = ActorTracker::new();
    let starts = Arc::new(AtomicUsize::new(0));
    let addr = start(
        spec(&tracker, RestartBudget::default(), Arc::default()),
        starts.clone(),
    );
    assert_eq!(addr.send(Bump).await.unwrap(), 1);
    assert_eq!(addr.send(Bump).await.unwrap(), 2);
    assert!(
        addr.send(Boom).await.is_err(),
        "the panicking request itself gets no answer"
    );
    assert_eq!(
        addr.send(Bump).await.unwrap(),
        1,
        "state was reset by the restart"
    );
    assert_eq!(starts.load(Ordering::SeqCst), 2);
    assert_eq!(
        tracker
            .kind(ActorKind::Topic)
            .panics
            .load(Ordering::Relaxed),
        1
    );
    assert_eq!(
        tracker
            .kind(ActorKind::Topic)
            .restarts
            .load(Ordering::Relaxed),
        1
    );
}

/// Goal: a retired actor stops for good and its parent hears why.
#[actix::test]
async fn a_retired_actor_is_not_restarted() {
    let tracker = ActorTracker::new();
    let exits = Arc::new(Mutex::new(Vec::new()));
    let addr = start(
        spec(&tracker, RestartBudget::default(), exits.clone()),
        Arc::default(),
    );
    addr.send(Quit { retire: true }).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(addr.send(Bump).await.is_err());
    assert_eq!(*exits.lock().unwrap(), vec![ExitReason::Retired]);
    assert_eq!(
        tracker.kind(ActorKind::Topic).live.load(Ordering::Relaxed),
        0
    );
}

/// Goal: failing faster than the budget allows escalates to the parent.
#[actix::test]
async fn failing_past_the_budget_escalates() {
    let tracker = ActorTracker::new();
    let exits = Arc::new(Mutex::new(Vec::new()));
    let budget = RestartBudget::new(2, Duration::from_secs(60));
    let addr = start(spec(&tracker, budget, exits.clone()), Arc::default());
    for _ in 0..2 {
        addr.send(Quit { retire: false }).await.unwrap();
        assert_eq!(
            addr.send(Bump).await.unwrap(),
            1,
            "restarted after a plain stop"
        );
    }
    addr.send(Quit { retire: false }).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(*exits.lock().unwrap(), vec![ExitReason::BudgetExhausted]);
}
