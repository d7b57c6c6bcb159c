//! Producer: one client producer handle; publishes SENDs and answers them in order.

mod actor;
mod entry_meta;
mod gate;
mod messages;
mod receipts;

pub use actor::{Producer, ProducerWiring};
pub use entry_meta::{entry_meta, sticky_key_hash};
pub use gate::PublishGate;
pub use messages::{CloseProducer, Register, SendMessage, TopicClosing};
pub use receipts::{Receipt, ReceiptQueue};
