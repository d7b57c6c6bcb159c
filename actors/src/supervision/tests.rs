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

crate::forwarded!(Counter);

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

/// Asks the actor for its own public address, as it would hand it to others.
#[derive(Message)]
#[rtype(result = "Option<actix::Addr<Counter>>")]
struct WhoAmI;

impl Handler<WhoAmI> for Counter {
    type Result = Option<actix::Addr<Counter>>;
    fn handle(&mut self, _: WhoAmI, _: &mut Context<Self>) -> Self::Result {
        self.lifecycle.address()
    }
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

fn start_default(
    tracker: &Arc<ActorTracker>,
) -> (actix::Addr<Counter>, Arc<Mutex<Vec<ExitReason>>>) {
    let exits = Arc::new(Mutex::new(Vec::new()));
    let addr = start(
        spec(tracker, RestartBudget::default(), exits.clone()),
        Arc::default(),
    );
    (addr, exits)
}

fn faults(tracker: &Arc<ActorTracker>) -> FaultInjector {
    let dir = tempfile::tempdir().unwrap();
    let storage = geminga_storage::Storage::open(dir.path(), Default::default()).unwrap();
    // The directory may go: these tests inject actor faults only.
    std::mem::forget(dir);
    FaultInjector::new(tracker.clone(), storage)
}

/// Goal: an injected panic is caught and restarts the actor in place, like a handler's panic.
#[actix::test]
async fn an_injected_panic_restarts_the_actor() {
    let tracker = ActorTracker::new();
    let (addr, _) = start_default(&tracker);
    assert_eq!(addr.send(Bump).await.unwrap(), 1);
    let ids = faults(&tracker)
        .actor(ActorKind::Topic, "counter", ActorFault::Panic)
        .unwrap();
    assert_eq!(ids.len(), 1);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(addr.send(Bump).await.unwrap(), 1, "state was reset");
    let snap = tracker.snapshot();
    assert_eq!((snap[0].restarts, snap[0].panics), (1, 1));
}

/// Goal: an injected stop restarts the actor without counting a panic.
#[actix::test]
async fn an_injected_stop_restarts_the_actor() {
    let tracker = ActorTracker::new();
    let (addr, _) = start_default(&tracker);
    addr.send(Bump).await.unwrap();
    faults(&tracker)
        .actor(ActorKind::Topic, "counter", ActorFault::Stop)
        .unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(addr.send(Bump).await.unwrap(), 1);
    let snap = tracker.snapshot();
    assert_eq!((snap[0].restarts, snap[0].panics), (1, 0));
}

/// Goal: a stalled actor queues its messages (visible as mailbox depth) and handles them all,
/// in order, once the stall ends.
#[actix::test]
async fn a_stall_queues_messages_then_handles_them_in_order() {
    let tracker = ActorTracker::new();
    let (addr, _) = start_default(&tracker);
    let stall = ActorFault::Stall {
        duration: Duration::from_millis(300),
    };
    faults(&tracker)
        .actor(ActorKind::Topic, "counter", stall)
        .unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let pending: Vec<_> = (0..5).map(|_| addr.send(Bump)).collect();
    let polled = futures_util::future::join_all(pending);
    tokio::pin!(polled);
    assert!(
        tokio::time::timeout(Duration::from_millis(100), &mut polled)
            .await
            .is_err(),
        "nothing is handled during the stall"
    );
    let snap = tracker.snapshot();
    assert_eq!(snap[0].state, ActorState::Stalled);
    assert_eq!(snap[0].mailbox_depth, 5);
    let answers: Vec<usize> = polled.await.into_iter().map(Result::unwrap).collect();
    assert_eq!(answers, vec![1, 2, 3, 4, 5]);
    let snap = tracker.snapshot();
    assert_eq!(
        (snap[0].state, snap[0].mailbox_depth),
        (ActorState::Running, 0)
    );
    assert!(snap[0].handled >= 5);
    assert!(tracker.kind(ActorKind::Topic).latency.snapshot().count >= 5);
}

/// Goal: clearing faults ends a stall at once.
#[actix::test]
async fn clearing_faults_ends_a_stall() {
    let tracker = ActorTracker::new();
    let (addr, _) = start_default(&tracker);
    let injector = faults(&tracker);
    let stall = ActorFault::Stall {
        duration: Duration::from_secs(60),
    };
    injector.actor(ActorKind::Topic, "counter", stall).unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(injector.active().len(), 1);
    injector.clear();
    let answer = tokio::time::timeout(Duration::from_secs(2), addr.send(Bump)).await;
    assert_eq!(answer.unwrap().unwrap(), 1);
    assert!(injector.active().is_empty());
}

/// Goal: a dropped mailbox kills the actor: queued requests fail, the address goes dead, and
/// the parent hears `MailboxDropped` so it can replace the child.
#[actix::test]
async fn a_dropped_mailbox_kills_the_actor_and_tells_the_parent() {
    let tracker = ActorTracker::new();
    let (addr, exits) = start_default(&tracker);
    let injector = faults(&tracker);
    let stall = ActorFault::Stall {
        duration: Duration::from_secs(60),
    };
    injector.actor(ActorKind::Topic, "counter", stall).unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let queued = addr.send(Bump);
    tokio::time::sleep(Duration::from_millis(20)).await;
    injector
        .actor(ActorKind::Topic, "counter", ActorFault::DropMailbox)
        .unwrap();
    assert!(queued.await.is_err(), "a queued request is discarded");
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(!addr.connected());
    assert!(addr.send(Bump).await.is_err());
    assert_eq!(*exits.lock().unwrap(), vec![ExitReason::MailboxDropped]);
    assert!(tracker.snapshot().is_empty());
    assert!(matches!(
        injector.actor(ActorKind::Topic, "counter", ActorFault::Panic),
        Err(FaultError::NoSuchActor { .. })
    ));
}

/// Goal: the address an actor hands out is its public one, the one supervise returned.
#[actix::test]
async fn lifecycle_address_is_the_public_address() {
    let tracker = ActorTracker::new();
    let (addr, _) = start_default(&tracker);
    let mine = addr.send(WhoAmI).await.unwrap().unwrap();
    assert_eq!(mine, addr);
}

/// Goal: an actor nobody references any more stops, and its parent hears why.
#[actix::test]
async fn an_unreferenced_actor_stops() {
    let tracker = ActorTracker::new();
    let (addr, exits) = start_default(&tracker);
    addr.send(Bump).await.unwrap();
    drop(addr);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(*exits.lock().unwrap(), vec![ExitReason::Unreferenced]);
    assert_eq!(
        tracker.kind(ActorKind::Topic).live.load(Ordering::Relaxed),
        0
    );
}
