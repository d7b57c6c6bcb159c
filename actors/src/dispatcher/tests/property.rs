//! Key_Shared property test: 10 000 seeded scenarios of consumers joining, leaving, crashing,
//! nacking and acking at random, with and without batches. Every delivery must respect per-key
//! order (nacked entries are the documented exception and never break the check: see the
//! dispatcher README), every blocked key must wait for an entry its holder still holds, a key
//! must be asked for as soon as its holder acked and its owner can take it, and once everyone
//! acks, every entry must be delivered and acked: nothing stays stuck.

use super::sim::{Rng, Sim};
use super::*;

const SCENARIOS: u64 = 10_000;
const QUARTERS: [(i32, i32); 4] = [
    (0, 16_383),
    (16_384, 32_767),
    (32_768, 49_151),
    (49_152, 65_535),
];

struct Scenario {
    rng: Rng,
    sim: Sim,
    sticky: bool,
    out_of_order: bool,
    consumers: Vec<u64>,
    next_key: u64,
    keys: Vec<String>,
    batches: bool,
}

impl Scenario {
    fn new(seed: u64) -> Self {
        let mut rng = Rng::new(seed);
        let sticky = rng.chance(15);
        let out_of_order = !sticky && rng.chance(10);
        let limited = rng.chance(30);
        let limits = DispatchLimits {
            read_batch: 1 + rng.below(8) as usize,
            max_unacked_per_consumer: if limited { 2 + rng.below(6) as u32 } else { 0 },
            max_unacked_per_subscription: if limited { 4 + rng.below(10) as u32 } else { 0 },
            replay_lookahead: 4 + rng.below(40) as usize,
        };
        let keys = (0..1 + rng.below(6))
            .map(|k| format!("key-{seed}-{k}"))
            .collect();
        let batches = rng.chance(50);
        let mut sim = Sim::new(DispatcherState::new(limits));
        sim.check_order = !out_of_order;
        Scenario {
            rng,
            sim,
            sticky,
            out_of_order,
            consumers: Vec::new(),
            next_key: 1,
            keys,
            batches,
        }
    }

    fn free_quarter(&self) -> Option<(i32, i32)> {
        let taken: Vec<(u32, u32)> = self
            .sim
            .d
            .stats()
            .consumers
            .iter()
            .flat_map(|c| c.hash_ranges.iter().map(|r| (r.start, r.end)))
            .collect();
        QUARTERS
            .iter()
            .copied()
            .find(|(s, _)| !taken.iter().any(|(ts, _)| *ts == *s as u32))
    }

    fn join(&mut self) {
        let key = self.next_key;
        self.next_key += 1;
        // Names repeat on purpose: consumers may share a name.
        let name = format!("c{}", self.rng.below(4));
        let meta = if self.sticky {
            let Some((start, end)) = self.free_quarter() else {
                return;
            };
            Some(KeySharedMeta {
                key_shared_mode: geminga_protocol::proto::KeySharedMode::Sticky as i32,
                hash_ranges: vec![IntRange { start, end }],
                allow_out_of_order_delivery: None,
            })
        } else {
            self.out_of_order.then(|| KeySharedMeta {
                key_shared_mode: 0,
                hash_ranges: vec![],
                allow_out_of_order_delivery: Some(true),
            })
        };
        let consumer = DispatchConsumer {
            key_shared: meta,
            ..consumer(key, &name, SubType::KeyShared)
        };
        self.sim
            .d
            .add_consumer(consumer)
            .expect("consumer accepted");
        self.consumers.push(key);
        let permits = self.rng.below(12) as u32;
        self.sim.d.flow(key, permits);
    }

    fn publish(&mut self) {
        for _ in 0..1 + self.rng.below(4) {
            let messages = if self.batches && self.rng.chance(40) {
                2 + self.rng.below(4) as u32
            } else {
                1
            };
            let key = if self.rng.chance(15) {
                None
            } else {
                let k = self.rng.below(self.keys.len() as u64) as usize;
                Some(self.keys[k].clone())
            };
            self.sim.publish(key.as_deref(), messages);
        }
    }

    fn some_consumer(&mut self) -> Option<u64> {
        if self.consumers.is_empty() {
            return None;
        }
        let i = self.rng.below(self.consumers.len() as u64) as usize;
        Some(self.consumers[i])
    }

    fn received_by(&self, consumer: u64) -> Vec<u64> {
        self.sim
            .received
            .get(&consumer)
            .cloned()
            .unwrap_or_default()
    }

    fn step(&mut self) {
        match self.rng.below(100) {
            0..=14 => self.publish(),
            15..=34 => self.sim.serve_fresh(),
            35..=49 => self.sim.serve_replay(Some(&mut self.rng)),
            50..=64 => {
                if let Some(c) = self.some_consumer() {
                    for id in self.received_by(c) {
                        if self.rng.chance(40) {
                            let messages = self.sim.log[id as usize].meta.num_messages;
                            if messages > 1 && self.rng.chance(50) {
                                let index = self.rng.below(u64::from(messages)) as u32;
                                self.sim.ack_index(c, id, index);
                            } else {
                                self.sim.ack(c, id);
                            }
                        }
                    }
                }
            }
            65..=71 => {
                if let Some(c) = self.some_consumer() {
                    let nacked: Vec<u64> = self
                        .received_by(c)
                        .into_iter()
                        .filter(|_| self.rng.chance(30))
                        .collect();
                    self.sim.nack(c, &nacked);
                }
            }
            72..=81 => {
                if let Some(c) = self.some_consumer() {
                    let permits = 1 + self.rng.below(10) as u32;
                    self.sim.d.flow(c, permits);
                }
            }
            82..=89 if self.consumers.len() < 4 => self.join(),
            90..=95 => {
                if let Some(c) = self.some_consumer() {
                    self.consumers.retain(|k| *k != c);
                    self.sim.leave(c);
                }
            }
            _ => {}
        }
        self.sim.pump();
    }

    /// Everyone gets permits and acks everything: all entries must end up acked.
    fn drain(&mut self) -> Result<(), String> {
        if self.consumers.is_empty() {
            self.join();
        }
        while self.sticky && self.free_quarter().is_some() {
            self.join();
        }
        for _ in 0..20_000 {
            if self.sim.all_acked() {
                return Ok(());
            }
            for c in self.consumers.clone() {
                if self.sim.d.permits(c) < 20 {
                    self.sim.d.flow(c, 50);
                }
                for id in self.received_by(c) {
                    self.sim.ack(c, id);
                }
            }
            self.sim.pump();
            self.sim.check_nothing_deliverable_waits();
            self.sim.serve_replay(None);
            self.sim.serve_fresh();
            self.sim.pump();
        }
        Err(format!(
            "stuck: {} of {} entries unacked; stats {:?}",
            self.sim.acked.iter().filter(|a| !**a).count(),
            self.sim.log.len(),
            self.sim.d.stats()
        ))
    }
}

fn run(seed: u64) -> Result<u64, String> {
    let mut s = Scenario::new(seed);
    for _ in 0..1 + s.rng.below(3) {
        s.join();
    }
    s.sim.pump();
    let steps = 40 + s.rng.below(120);
    for step in 0..steps {
        s.step();
        s.sim.check_nothing_deliverable_waits();
        if step % 8 == 0 && !s.out_of_order {
            s.sim.check_blocked_hashes();
        }
        if let Some(v) = s.sim.violations.first() {
            return Err(format!("seed {seed}, step {step}: {v}"));
        }
    }
    s.drain().map_err(|e| format!("seed {seed}: {e}"))?;
    if let Some(v) = s.sim.violations.first() {
        return Err(format!("seed {seed}, drain: {v}"));
    }
    Ok(s.sim.delivered)
}

#[test]
fn key_shared_keeps_per_key_order_and_never_gets_stuck() {
    let mut delivered = 0;
    for seed in 0..SCENARIOS {
        match run(seed) {
            Ok(n) => delivered += n,
            Err(e) => panic!("{e}"),
        }
    }
    assert!(delivered > SCENARIOS * 10, "scenarios deliver: {delivered}");
}
