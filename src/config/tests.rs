//! Unit tests for the config parser.

use super::*;

/// An excerpt in the shape of Pulsar 4.x `conf/standalone.conf`: ZooKeeper, BookKeeper and
/// managed-ledger keys Geminga ignores, mixed with broker keys it reads.
const STANDALONE_EXCERPT: &str = r"
### --- General broker settings --- ###

# Zookeeper quorum connection string
zookeeperServers=
# Configuration Store connection string
configurationStoreServers=
metadataStoreUrl=zk:localhost:2181

brokerServicePort=6651

# Port to use to server HTTP request
webServicePort=8081

# Hostname or IP address the service binds on, default is 0.0.0.0.
bindAddress=0.0.0.0

# Hostname or IP address the service advertises to the outside world.
advertisedAddress=broker.example.com

# Number of threads to use for Netty IO. Default is set to 2 * Runtime.getRuntime().availableProcessors()
numIOThreads=

numOrderedExecutorThreads=8
numHttpServerThreads=
clusterName=standalone-test
zooKeeperSessionTimeoutMillis=30000
zooKeeperOperationTimeoutSeconds=30
brokerShutdownTimeoutMs=60000
backlogQuotaCheckEnabled=true
backlogQuotaDefaultLimitGB=-1
allowAutoTopicCreation=true
allowAutoTopicCreationType=partitioned
defaultNumPartitions=4
brokerDeleteInactiveTopicsEnabled=true
maxUnackedMessagesPerConsumer=1000
maxUnackedMessagesPerSubscription=4000
keepAliveIntervalSeconds=15
maxMessageSize=1048576
dispatcherMaxReadBatchSize=50

### --- BookKeeper Client --- ###
bookkeeperClientTimeoutInSeconds=30
bookkeeperClientSpeculativeReadTimeoutInMillis=0
bookkeeperClientHealthCheckEnabled=true
bookkeeperClientRackawarePolicyEnabled=true
bookkeeperNumberOfChannelsPerBookie=16
journalSyncData=false

### --- Managed Ledger --- ###
managedLedgerDefaultEnsembleSize=1
managedLedgerDefaultWriteQuorum=1
managedLedgerDefaultAckQuorum=1
managedLedgerCacheSizeMB=
managedLedgerMaxEntriesPerLedger=50000
managedLedgerDefaultEnsembleSize=1

### --- Authentication --- ###
authenticationEnabled=false
authenticationProviders=
superUserRoles=
";

#[test]
fn standalone_excerpt_sets_known_keys_and_lists_unknown_ones() {
    let (config, unknown) = BrokerConfig::from_pulsar_conf(STANDALONE_EXCERPT).unwrap();
    assert_eq!(config.bind, "0.0.0.0:6651");
    assert_eq!(config.admin_bind, "0.0.0.0:8081");
    assert_eq!(
        config.advertised_address.as_deref(),
        Some("broker.example.com")
    );
    assert_eq!(config.cluster_name, "standalone-test");
    assert_eq!(config.allow_auto_topic_creation_type, "partitioned");
    assert_eq!(config.default_num_partitions, 4);
    assert_eq!(config.max_unacked_messages_per_consumer, 1000);
    assert_eq!(config.max_unacked_messages_per_subscription, 4000);
    assert_eq!(config.keep_alive_interval_secs, 15);
    assert_eq!(config.max_message_size, 1_048_576);
    assert_eq!(config.dispatcher_max_read_batch_size, 50);
    assert!(!config.fsync);
    // Empty values keep the defaults.
    assert_eq!(
        config.worker_threads,
        BrokerConfig::default().worker_threads
    );
    assert_eq!(config.cache_size_mb, 64);

    assert_eq!(
        unknown,
        [
            "zookeeperServers",
            "configurationStoreServers",
            "metadataStoreUrl",
            "numOrderedExecutorThreads",
            "numHttpServerThreads",
            "zooKeeperSessionTimeoutMillis",
            "zooKeeperOperationTimeoutSeconds",
            "brokerShutdownTimeoutMs",
            "backlogQuotaDefaultLimitGB",
            "brokerDeleteInactiveTopicsEnabled",
            "bookkeeperClientTimeoutInSeconds",
            "bookkeeperClientSpeculativeReadTimeoutInMillis",
            "bookkeeperClientHealthCheckEnabled",
            "bookkeeperClientRackawarePolicyEnabled",
            "bookkeeperNumberOfChannelsPerBookie",
            "managedLedgerDefaultEnsembleSize",
            "managedLedgerDefaultWriteQuorum",
            "managedLedgerDefaultAckQuorum",
            "managedLedgerMaxEntriesPerLedger",
        ]
    );
    // The security keys are Geminga's too; these values leave security off.
    assert_eq!(config.security, crate::config::SecurityConfig::default());
}

#[test]
fn empty_text_gives_defaults() {
    let (config, unknown) =
        BrokerConfig::from_pulsar_conf("\n  # only a comment\n! too\n").unwrap();
    assert_eq!(config, BrokerConfig::default());
    assert!(unknown.is_empty());
}

#[test]
fn defaults_match_the_brief() {
    let c = BrokerConfig::default();
    assert_eq!(c.data_dir, PathBuf::from("./data"));
    assert_eq!(c.bind, "127.0.0.1:6650");
    assert_eq!(c.admin_bind, "127.0.0.1:8080");
    assert_eq!(c.max_message_size, 5 * 1024 * 1024);
    assert!(c.fsync && c.allow_auto_topic_creation && !c.fault_injection_enabled);
    assert!(c.worker_threads >= 1);
    assert_eq!(c.max_pending_publish_requests_per_connection, 1000);
}

#[test]
fn port_alone_keeps_the_default_host() {
    let (c, _) = BrokerConfig::from_pulsar_conf("brokerServicePort=0").unwrap();
    assert_eq!(c.bind, "127.0.0.1:0");
    assert_eq!(c.admin_bind, "127.0.0.1:8080");
}

#[test]
fn bind_address_after_the_ports_still_applies_to_both() {
    let text = "webServicePort=9090\nbrokerServicePort=7000\nbindAddress=::1\n";
    let (c, _) = BrokerConfig::from_pulsar_conf(text).unwrap();
    assert_eq!(c.bind, "[::1]:7000");
    assert_eq!(c.admin_bind, "[::1]:9090");
}

#[test]
fn geminga_keys_are_read() {
    let text =
        "dataDir = /var/lib/geminga \nfaultInjectionEnabled=TRUE\nlogLevel=geminga=debug,info\n\
                numIOThreads=3\nmaxProducersPerTopic=2\nmaxConsumersPerSubscription=5\n\
                maxPendingPublishRequestsPerConnection=10\nmanagedLedgerCacheSizeMB=128\n\
                allowAutoTopicCreation=false\npayloadSegmentMinBytes=4096";
    let (c, unknown) = BrokerConfig::from_pulsar_conf(text).unwrap();
    assert!(unknown.is_empty());
    assert_eq!(c.data_dir, PathBuf::from("/var/lib/geminga"));
    assert!(c.fault_injection_enabled);
    assert_eq!(c.log_level.as_deref(), Some("geminga=debug,info"));
    assert_eq!(c.worker_threads, 3);
    assert_eq!(c.max_producers_per_topic, 2);
    assert_eq!(c.max_consumers_per_subscription, 5);
    assert_eq!(c.max_pending_publish_requests_per_connection, 10);
    assert_eq!(c.cache_size_mb, 128);
    assert!(!c.allow_auto_topic_creation);
    assert_eq!(c.payload_segment_min_bytes, 4096);
    assert_eq!(BrokerConfig::default().payload_segment_min_bytes, 0);
}

#[test]
fn delayed_delivery_and_dead_letter_keys_are_read() {
    let defaults = BrokerConfig::default();
    assert!(defaults.delayed_delivery_enabled);
    assert_eq!(defaults.delayed_delivery_tick_ms, 1000);
    assert_eq!(defaults.dead_letter_max_redeliver_count, 0);
    let text = "delayedDeliveryEnabled=false\ndelayedDeliveryTickTimeMillis=250\n\
                deadLetterMaxRedeliverCount=3\nredeliveryBackoffMinMillis=100\n\
                redeliveryBackoffMaxMillis=5000";
    let (c, unknown) = BrokerConfig::from_pulsar_conf(text).unwrap();
    assert!(unknown.is_empty());
    assert!(!c.delayed_delivery_enabled);
    assert_eq!(c.delayed_delivery_tick_ms, 250);
    assert_eq!(c.dead_letter_max_redeliver_count, 3);
    assert_eq!(
        (c.redelivery_backoff_min_ms, c.redelivery_backoff_max_ms),
        (100, 5000)
    );
    assert!(BrokerConfig::from_pulsar_conf("delayedDeliveryTickTimeMillis=0").is_err());
}

#[test]
fn later_duplicate_wins_like_java_properties() {
    let (c, _) = BrokerConfig::from_pulsar_conf("clusterName=a\nclusterName=b").unwrap();
    assert_eq!(c.cluster_name, "b");
}

fn invalid(text: &str) -> (String, String, usize, String) {
    match BrokerConfig::from_pulsar_conf(text) {
        Err(ConfigError::InvalidValue {
            key,
            value,
            line,
            reason,
        }) => (key, value, line, reason),
        other => panic!("expected InvalidValue, got {other:?}"),
    }
}

#[test]
fn bad_values_name_key_value_and_line() {
    let (key, value, line, reason) = invalid("# header\nclusterName=x\nmaxMessageSize=5MB\n");
    assert_eq!(
        (key.as_str(), value.as_str(), line),
        ("maxMessageSize", "5MB", 3)
    );
    assert!(reason.contains("integer"), "{reason}");

    let err = BrokerConfig::from_pulsar_conf("journalSyncData=yes").unwrap_err();
    let text = err.to_string();
    assert!(text.contains("line 1") && text.contains("journalSyncData") && text.contains("yes"));

    assert_eq!(invalid("brokerServicePort=70000").0, "brokerServicePort");
    assert_eq!(invalid("numIOThreads=0").0, "numIOThreads");
    assert_eq!(invalid("maxMessageSize=0").0, "maxMessageSize");
    assert_eq!(invalid("maxMessageSize=-1").0, "maxMessageSize");
    assert_eq!(invalid("defaultNumPartitions=0").0, "defaultNumPartitions");
    assert_eq!(
        invalid("allowAutoTopicCreationType=sharded").0,
        "allowAutoTopicCreationType"
    );
    assert_eq!(invalid("bindAddress=host:6650").0, "bindAddress");
    assert_eq!(invalid("advertisedAddress=bad host").0, "advertisedAddress");
    assert_eq!(invalid("logLevel=[[[").0, "logLevel");
}

#[test]
fn line_without_separator_is_rejected_with_its_number() {
    let err = BrokerConfig::from_pulsar_conf("clusterName=a\n\njustakey\n").unwrap_err();
    assert!(
        matches!(err, ConfigError::MissingSeparator { line: 3, ref text } if text == "justakey")
    );
}

#[test]
fn load_file_reads_and_wraps_errors_with_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("standalone.conf");
    std::fs::write(&path, "clusterName=fromfile\nfoo=bar\n").unwrap();
    let (c, unknown) = BrokerConfig::load_file(&path).unwrap();
    assert_eq!(c.cluster_name, "fromfile");
    assert_eq!(unknown, ["foo"]);

    std::fs::write(&path, "maxMessageSize=x\n").unwrap();
    let err = BrokerConfig::load_file(&path).unwrap_err();
    assert!(matches!(err, ConfigError::InFile { .. }));
    assert!(err.to_string().contains("standalone.conf"), "{err}");

    let missing = dir.path().join("missing.conf");
    assert!(matches!(
        BrokerConfig::load_file(&missing),
        Err(ConfigError::Read { .. })
    ));
}

#[test]
fn host_port_parsing() {
    assert_eq!(
        parse_host_port("127.0.0.1:0").unwrap(),
        ("127.0.0.1".to_owned(), 0)
    );
    assert_eq!(
        parse_host_port("localhost:6650").unwrap(),
        ("localhost".to_owned(), 6650)
    );
    assert_eq!(
        parse_host_port("[::1]:8080").unwrap(),
        ("::1".to_owned(), 8080)
    );
    for bad in [
        "6650",
        ":6650",
        "host:",
        "host:99999",
        "::1:6650",
        "a b:1",
        "[::1]",
    ] {
        assert!(parse_host_port(bad).is_err(), "{bad} should be rejected");
    }
    let mut c = BrokerConfig::default();
    c.set_bind("[::1]:0").unwrap();
    assert_eq!(c.bind, "[::1]:0");
    let err = c.set_admin_bind("nope").unwrap_err();
    assert!(matches!(
        err,
        ConfigError::InvalidFlag {
            flag: "--admin-bind",
            ..
        }
    ));
}

#[test]
fn tenancy_keys_are_read_and_checked() {
    let (config, unknown) = BrokerConfig::from_pulsar_conf(
        "internalListenerName=internal\n\
         advertisedListeners=internal:pulsar://10.0.0.1:6650,external:pulsar://b.example:6650\n\
         defaultNumberOfNamespaceBundles=8\n",
    )
    .unwrap();
    assert!(unknown.is_empty());
    assert_eq!(config.default_number_of_namespace_bundles, 8);
    assert_eq!(config.internal_listener_name.as_deref(), Some("internal"));
    assert!(config
        .advertised_listeners
        .unwrap()
        .contains("external:pulsar://b.example:6650"));
}

#[test]
fn bad_listener_settings_are_refused_with_their_line() {
    let err =
        BrokerConfig::from_pulsar_conf("advertisedListeners=internal:ftp://h:1\n").unwrap_err();
    assert!(
        matches!(err, ConfigError::InvalidValue { line: 1, .. }),
        "{err}"
    );
    let err = BrokerConfig::from_pulsar_conf(
        "\ninternalListenerName=nope\nadvertisedListeners=internal:pulsar://h:1\n",
    )
    .unwrap_err();
    assert!(
        matches!(err, ConfigError::InvalidValue { line: 2, .. }),
        "{err}"
    );
    assert!(BrokerConfig::from_pulsar_conf("defaultNumberOfNamespaceBundles=0\n").is_err());
}

#[test]
fn every_listed_key_is_applied() {
    let lists = [
        KNOWN_KEYS,
        POLICY_KEYS,
        super::storage_policies::KEYS,
        SECURITY_KEYS,
    ];
    for key in lists.into_iter().flatten() {
        let mut config = BrokerConfig::default();
        let mut listeners = super::parse::Listeners::default();
        // An odd value: number and flag keys refuse it, text keys take it; either way the
        // key is read, never answered as unknown.
        let applied = super::parse::apply(&mut config, &mut listeners, key, "\u{1}x");
        assert_ne!(applied, Ok(false), "{key} is listed but not applied");
    }
}
