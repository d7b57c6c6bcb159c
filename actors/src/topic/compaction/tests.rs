//! The compactor over hand-built entries, and whole runs against a temporary store.

use bytes::Bytes;
use geminga_protocol::{
    batch::{encode_batch, parse_batch},
    compression::compress,
    frame::Payload,
    proto::{CompressionType, EncryptionKeys, MessageMetadata, SingleMessageMetadata},
};
use geminga_storage::{Entry, EntryMeta, Storage, StorageConfig, WriteOp};
use prost::Message as _;

use super::{job, retained_mask, CompactedView, CompactionJob, Compactor};

fn metadata(key: Option<&str>) -> MessageMetadata {
    MessageMetadata {
        producer_name: "p".into(),
        publish_time: 1,
        partition_key: key.map(str::to_owned),
        ..MessageMetadata::default()
    }
}

fn single(id: u64, key: Option<&str>, value: &str) -> Entry {
    let data = Payload::new(&metadata(key), value.as_bytes()).data;
    Entry {
        entry_id: id,
        meta: EntryMeta {
            num_messages: 1,
            ..EntryMeta::default()
        },
        data,
    }
}

fn null_value(id: u64, key: &str) -> Entry {
    let mut md = metadata(Some(key));
    md.null_value = Some(true);
    Entry {
        entry_id: id,
        meta: EntryMeta {
            num_messages: 1,
            ..EntryMeta::default()
        },
        data: Payload::new(&md, b"ignored").data,
    }
}

fn batch(id: u64, messages: &[(&str, &str)]) -> Entry {
    let parts: Vec<(SingleMessageMetadata, &[u8])> = messages
        .iter()
        .map(|(key, value)| {
            let single = SingleMessageMetadata {
                partition_key: Some((*key).to_owned()),
                ..SingleMessageMetadata::default()
            };
            (single, value.as_bytes())
        })
        .collect();
    let body = encode_batch(&parts);
    let mut md = metadata(None);
    md.num_messages_in_batch = Some(i32::try_from(messages.len()).unwrap());
    Entry {
        entry_id: id,
        meta: EntryMeta {
            num_messages: u32::try_from(messages.len()).unwrap(),
            ..EntryMeta::default()
        },
        data: Payload::new(&md, &body).data,
    }
}

/// The largest batch body opened in these tests.
const LIMIT: usize = 64 * 1024;

/// [`batch`] with its body compressed by `codec`, as a producer with compression sends it.
fn compressed_batch(id: u64, codec: CompressionType, messages: &[(&str, &str)]) -> Entry {
    let plain = batch(id, messages);
    let (mut md, body) = body_of(&plain);
    md.compression = Some(codec as i32);
    md.uncompressed_size = Some(u32::try_from(body.len()).unwrap());
    let compressed = compress(codec, &body).unwrap();
    Entry {
        data: Payload::new(&md, &compressed).data,
        ..plain
    }
}

fn body_of(entry: &Entry) -> (MessageMetadata, Bytes) {
    let size = u32::from_be_bytes(entry.data[..4].try_into().unwrap()) as usize;
    let md = MessageMetadata::decode(&entry.data[4..4 + size]).unwrap();
    (md, entry.data.slice(4 + size..))
}

fn compact(entries: &[Entry], retain_null_key: bool) -> (Compactor, Vec<Entry>) {
    let mut compactor = Compactor::new(retain_null_key, LIMIT);
    for e in entries {
        compactor.observe(e);
    }
    let kept = entries
        .iter()
        .cloned()
        .filter_map(|e| compactor.rewrite(e))
        .collect();
    (compactor, kept)
}

#[test]
fn the_latest_message_of_each_key_survives_and_tombstones_remove_keys() {
    let entries = vec![
        single(0, Some("a"), "a1"),
        single(1, Some("b"), "b1"),
        single(2, None, "keyless"),
        single(3, Some("a"), "a2"),
        single(4, Some("c"), "c1"),
        single(5, Some("b"), ""),
        null_value(6, "c"),
        single(7, Some("d"), "d1"),
    ];
    let (compactor, kept) = compact(&entries, false);
    let ids: Vec<u64> = kept.iter().map(|e| e.entry_id).collect();
    assert_eq!(ids, vec![3, 7], "a2 and d1; b and c are tombstoned");
    assert_eq!(kept[0], entries[3], "kept entries are stored unchanged");
    assert_eq!(compactor.counts.kept, 2);
    assert_eq!(compactor.counts.removed, 6);
    let (_, kept) = compact(&entries, true);
    let ids: Vec<u64> = kept.iter().map(|e| e.entry_id).collect();
    assert_eq!(ids, vec![2, 3, 7], "keyless messages kept when asked");
}

#[test]
fn a_key_written_after_its_tombstone_lives_again() {
    let entries = vec![
        single(0, Some("a"), "a1"),
        single(1, Some("a"), ""),
        single(2, Some("a"), "a3"),
    ];
    let (_, kept) = compact(&entries, false);
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].entry_id, 2);
}

#[test]
fn batches_keep_their_shape_with_superseded_messages_compacted_out() {
    let entries = vec![
        batch(0, &[("a", "a1"), ("b", "b1"), ("c", "c1")]),
        batch(1, &[("a", "a2"), ("x", "")]),
        batch(2, &[("b", "b2"), ("b", "b3")]),
    ];
    let (_, kept) = compact(&entries, false);
    let ids: Vec<u64> = kept.iter().map(|e| e.entry_id).collect();
    assert_eq!(ids, vec![0, 1, 2]);
    let (md, body) = body_of(&kept[0]);
    assert_eq!(md.num_messages_in_batch, Some(3), "indexes stay valid");
    let messages = parse_batch(&body, 3).unwrap();
    assert!(messages[0].metadata.compacted_out());
    assert!(messages[0].payload.is_empty());
    assert!(messages[1].metadata.compacted_out());
    assert!(!messages[2].metadata.compacted_out());
    assert_eq!(messages[2].payload, Bytes::from_static(b"c1"));
    assert_eq!(kept[0].meta.checksum, crc32c::crc32c(&kept[0].data));
    assert_eq!(retained_mask(&kept[0].data), Some(vec![0b100]));
    assert_eq!(
        retained_mask(&kept[1].data),
        Some(vec![0b01]),
        "a2 kept, x tombstone"
    );
    assert_eq!(retained_mask(&kept[2].data), Some(vec![0b10]), "b3 kept");
    assert_eq!(
        retained_mask(&entries[0].data),
        None,
        "nothing compacted out"
    );
    let (_, kept) = compact(&[batch(0, &[("a", "1"), ("a", "")])], false);
    assert!(kept.is_empty(), "a batch with nothing left is dropped");
}

fn store() -> (tempfile::TempDir, Storage) {
    let dir = tempfile::tempdir().unwrap();
    let config = StorageConfig {
        fsync: false,
        ..StorageConfig::default()
    };
    let storage = Storage::open(dir.path(), config).unwrap();
    (dir, storage)
}

fn append(s: &Storage, ledger_id: u64, entries: Vec<Entry>) {
    let ops = entries
        .into_iter()
        .map(|entry| WriteOp::Append { ledger_id, entry })
        .collect();
    s.write(ops).unwrap();
}

fn values(s: &Storage, ledger_id: u64) -> Vec<(u64, String)> {
    s.read_entries(ledger_id, 0, 1_000, usize::MAX)
        .unwrap()
        .into_iter()
        .map(|e| {
            let (_, body) = body_of(&e);
            (e.entry_id, String::from_utf8(body.to_vec()).unwrap())
        })
        .collect()
}

#[test]
fn a_run_writes_an_owned_ledger_and_builds_on_the_previous_one() {
    let (_dir, s) = store();
    let topic = s
        .create_topic("persistent://t/n/compacted")
        .unwrap()
        .ledger_id;
    append(
        &s,
        topic,
        vec![
            single(0, Some("a"), "a1"),
            single(1, Some("b"), "b1"),
            single(2, Some("a"), "a2"),
        ],
    );
    let first = job::run(
        &s,
        &CompactionJob {
            ledger_id: topic,
            previous: None,
            horizon: 2,
            retain_null_key: false,
            max_batch_bytes: LIMIT,
        },
    )
    .unwrap();
    assert_eq!(first.view.horizon, 2);
    assert_eq!(s.owned_ledgers(topic).unwrap(), vec![first.view.ledger_id]);
    assert_eq!(
        values(&s, first.view.ledger_id),
        vec![(1, "b1".into()), (2, "a2".into())],
        "compacted entries keep their topic ids"
    );
    // The topic's log below the horizon may now be trimmed: the next run starts from the
    // compacted log.
    s.write(vec![WriteOp::Trim {
        ledger_id: topic,
        before_entry: 3,
    }])
    .unwrap();
    append(
        &s,
        topic,
        vec![single(3, Some("b"), ""), single(4, Some("c"), "c1")],
    );
    let previous: Option<CompactedView> = Some(first.view);
    let second = job::run(
        &s,
        &CompactionJob {
            ledger_id: topic,
            previous,
            horizon: 4,
            retain_null_key: false,
            max_batch_bytes: LIMIT,
        },
    )
    .unwrap();
    assert_eq!(
        values(&s, second.view.ledger_id),
        vec![(2, "a2".into()), (4, "c1".into())]
    );
    assert_eq!(second.counts.kept, 2);
    assert_eq!(second.counts.removed, 2, "b1 and its tombstone");
}

#[test]
fn compressed_batches_are_opened_and_rewritten_uncompressed() {
    for codec in [
        CompressionType::Lz4,
        CompressionType::Zlib,
        CompressionType::Zstd,
        CompressionType::Snappy,
    ] {
        let entries = vec![
            compressed_batch(0, codec, &[("a", "a1"), ("b", "b1"), ("c", "c1")]),
            compressed_batch(1, codec, &[("a", "a2"), ("c", "")]),
            compressed_batch(2, codec, &[("d", "d1")]),
        ];
        let (compactor, kept) = compact(&entries, false);
        let ids: Vec<u64> = kept.iter().map(|e| e.entry_id).collect();
        assert_eq!(ids, vec![0, 1, 2], "{codec:?}");
        let (md, body) = body_of(&kept[0]);
        assert_eq!(md.compression, None, "{codec:?}: written back uncompressed");
        assert_eq!(
            md.uncompressed_size,
            Some(u32::try_from(body.len()).unwrap())
        );
        let messages = parse_batch(&body, 3).unwrap();
        let payloads: Vec<&[u8]> = messages.iter().map(|m| &m.payload[..]).collect();
        assert_eq!(
            payloads,
            vec![&b""[..], b"b1", b""],
            "{codec:?}: a1 and c1 superseded"
        );
        assert_eq!(kept[0].meta.checksum, crc32c::crc32c(&kept[0].data));
        assert_eq!(retained_mask(&kept[0].data), Some(vec![0b010]), "{codec:?}");
        assert_eq!(retained_mask(&kept[1].data), Some(vec![0b01]), "{codec:?}");
        assert_eq!(
            kept[2], entries[2],
            "{codec:?}: a batch kept whole stays compressed"
        );
        assert_eq!(compactor.counts.kept, 3);
        assert_eq!(compactor.counts.removed, 3);
    }
}

#[test]
fn batches_that_cannot_be_opened_are_kept_whole() {
    let big = compressed_batch(0, CompressionType::Lz4, &[("a", "a1"), ("a", "a2")]);
    let mut corrupt = compressed_batch(1, CompressionType::Zstd, &[("b", "b1"), ("b", "b2")]);
    let cut = corrupt.data.len() - 3;
    corrupt.data = corrupt.data.slice(..cut);
    let mut md = metadata(None);
    md.num_messages_in_batch = Some(2);
    md.encryption_keys = vec![EncryptionKeys {
        key: "k".into(),
        value: vec![1],
        metadata: vec![],
    }];
    let encrypted = Entry {
        data: Payload::new(&md, b"ciphertext").data,
        ..batch(2, &[("c", "c1"), ("c", "c2")])
    };
    let mut compactor = Compactor::new(false, 8);
    let entries = [big, corrupt, encrypted];
    for e in &entries {
        compactor.observe(e);
    }
    for e in &entries {
        let kept = compactor.rewrite(e.clone());
        assert_eq!(kept.as_ref(), Some(e), "entry {} changed", e.entry_id);
    }
    assert_eq!(compactor.counts.kept, 6);
}

#[test]
fn messages_an_earlier_compaction_removed_are_neither_tombstones_nor_counted_again() {
    let (_, first) = compact(&[batch(0, &[("a", "a1"), ("b", "b1"), ("a", "a2")])], false);
    assert_eq!(retained_mask(&first[0].data), Some(vec![0b110]));
    let (compactor, kept) = compact(&[first[0].clone(), single(1, Some("b"), "")], false);
    assert_eq!(kept.len(), 1);
    assert_eq!(retained_mask(&kept[0].data), Some(vec![0b100]), "a2 only");
    assert_eq!(compactor.counts.kept, 1);
    assert_eq!(
        compactor.counts.removed, 2,
        "b1 and its tombstone, not a1 again"
    );
}

#[test]
fn compressed_single_messages_take_their_key_from_the_metadata() {
    let compressed = |id: u64, key: &str, value: &str| {
        let mut md = metadata(Some(key));
        md.compression = Some(CompressionType::Lz4 as i32);
        md.uncompressed_size = Some(u32::try_from(value.len()).unwrap());
        let body = compress(CompressionType::Lz4, value.as_bytes()).unwrap();
        Entry {
            data: Payload::new(&md, &body).data,
            ..single(id, Some(key), value)
        }
    };
    // An empty value compresses to a non-empty body: uncompressed_size says it is a tombstone.
    let entries = [
        compressed(0, "a", "a1"),
        compressed(1, "b", "b1"),
        compressed(2, "a", "a2"),
        compressed(3, "b", ""),
    ];
    assert!(!body_of(&entries[3]).1.is_empty());
    let (_, kept) = compact(&entries, false);
    assert_eq!(kept, vec![entries[2].clone()]);
}
