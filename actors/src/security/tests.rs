//! Unit tests: providers, permission rules, access checks and limits.

use std::{
    collections::BTreeSet,
    net::{IpAddr, Ipv4Addr},
    sync::Arc,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use base64::{engine::general_purpose, Engine};
use geminga_protocol::topic_name::TopicName;
use jsonwebtoken::{EncodingKey, Header};
use rustls_pki_types::CertificateDer;
use serde_json::json;

use super::*;
use crate::{
    error::RequestError,
    metadata::{ClusterData, MemoryMetadataStore, MetadataService, NamespaceName, TenantInfo},
};

const SECRET: [u8; 32] = [42; 32];

fn secret_config() -> TokenConfig {
    TokenConfig {
        secret_key: Some(format!(
            "data:;base64,{}",
            general_purpose::STANDARD.encode(SECRET)
        )),
        ..TokenConfig::default()
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn hs256(claims: serde_json::Value) -> String {
    jsonwebtoken::encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(&SECRET),
    )
    .unwrap()
}

#[test]
fn hs256_tokens_give_the_subject_and_expiry() {
    let provider = TokenProvider::new(&secret_config()).unwrap();
    let exp = now_secs() + 60;
    let identity = provider
        .validate(&hs256(json!({"sub": "alice", "exp": exp})))
        .unwrap();
    assert_eq!(identity.role, "alice");
    assert_eq!(
        identity.expires_at,
        Some(UNIX_EPOCH + Duration::from_secs(exp))
    );
    // No `exp`: valid for ever, as in Pulsar.
    let forever = provider.validate(&hs256(json!({"sub": "bob"}))).unwrap();
    assert_eq!((forever.role.as_str(), forever.expires_at), ("bob", None));
}

#[test]
fn expired_forged_and_malformed_tokens_are_refused() {
    let provider = TokenProvider::new(&secret_config()).unwrap();
    let expired = hs256(json!({"sub": "alice", "exp": now_secs() - 1}));
    assert!(matches!(
        provider.validate(&expired),
        Err(AuthError::Expired { .. })
    ));
    let forged = jsonwebtoken::encode(
        &Header::default(),
        &json!({"sub": "root"}),
        &EncodingKey::from_secret(b"another secret of thirty-two bytes"),
    )
    .unwrap();
    let err = provider.validate(&forged).unwrap_err();
    assert!(err.to_string().contains("bad signature"), "{err}");
    assert!(provider.validate("a.b.c").is_err());
    assert!(provider.validate("").is_err());
    let no_subject = hs256(json!({"name": "x"}));
    assert!(provider.validate(&no_subject).is_err());
}

#[test]
fn the_role_claim_and_audience_are_configurable() {
    let provider = TokenProvider::new(&TokenConfig {
        auth_claim: Some("role".to_owned()),
        audience: Some("geminga".to_owned()),
        ..secret_config()
    })
    .unwrap();
    let good = hs256(json!({"sub": "ignored", "role": "ops", "aud": ["x", "geminga"]}));
    assert_eq!(provider.validate(&good).unwrap().role, "ops");
    let wrong_audience = hs256(json!({"role": "ops", "aud": "other"}));
    assert!(provider.validate(&wrong_audience).is_err());
}

#[test]
fn es256_tokens_verify_with_a_der_public_key() {
    let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    // Pulsar stores public keys as DER (X.509 SubjectPublicKeyInfo): the PEM body decoded.
    let pem = pair.public_key_pem();
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let public_der = general_purpose::STANDARD.decode(body).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("public.key");
    std::fs::write(&path, &public_der).unwrap();
    let provider = TokenProvider::new(&TokenConfig {
        public_key: Some(format!("file://{}", path.display())),
        ..TokenConfig::default()
    })
    .unwrap();
    let key = EncodingKey::from_ec_pem(pair.serialize_pem().as_bytes()).unwrap();
    let token = jsonwebtoken::encode(
        &Header::new(jsonwebtoken::Algorithm::ES256),
        &json!({"sub": "ec-user"}),
        &key,
    )
    .unwrap();
    assert_eq!(provider.validate(&token).unwrap().role, "ec-user");
    // An HS256 token cannot pass as signed by the public key.
    assert!(provider.validate(&hs256(json!({"sub": "x"}))).is_err());
}

#[test]
fn keys_are_read_from_urls_files_and_base64() {
    assert_eq!(read_key("data:;base64,AQID").unwrap(), [1, 2, 3]);
    assert_eq!(read_key("data:text/plain,a%20b").unwrap(), b"a b");
    assert_eq!(read_key("AQID").unwrap(), [1, 2, 3]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k");
    std::fs::write(&path, [9, 9]).unwrap();
    assert_eq!(
        read_key(&format!("file://{}", path.display())).unwrap(),
        [9, 9]
    );
    assert_eq!(read_key(path.to_str().unwrap()).unwrap(), [9, 9]);
    assert!(matches!(
        read_key("/no/such/key/file"),
        Err(KeyError::Read { .. })
    ));
    assert!(read_key("not base64 !!").is_err());
}

#[test]
fn apr1_matches_openssl() {
    // `openssl passwd -apr1 -salt abcdefgh secret-pw` and with an empty password.
    assert_eq!(
        apr1_crypt(b"secret-pw", "abcdefgh"),
        "$apr1$abcdefgh$h7ZMHhhVcuEqF1m5wGTqF1"
    );
    assert_eq!(apr1_crypt(b"", "xy"), "$apr1$xy$43..WIhbfuznGvwoCyUek/");
}

#[test]
fn basic_users_check_apr1_bcrypt_and_des_hashes() {
    let bcrypt = pwhash::bcrypt::hash("b-pass").unwrap();
    #[allow(
        deprecated,
        reason = "htpasswd files may still hold crypt(3) DES hashes"
    )]
    let des = pwhash::unix_crypt::hash_with("ab", "d-pass").unwrap();
    let conf = format!(
        "# users\nalice:$apr1$abcdefgh$h7ZMHhhVcuEqF1m5wGTqF1\n\nbob:{bcrypt}\ncarol:{des}\n"
    );
    let provider = BasicProvider::parse(&conf).unwrap();
    assert_eq!(provider.check("alice", "secret-pw").unwrap().role, "alice");
    assert_eq!(provider.check("bob", "b-pass").unwrap().role, "bob");
    assert_eq!(provider.check("carol", "d-pass").unwrap().role, "carol");
    let wrong = provider.check("alice", "nope").unwrap_err();
    let unknown = provider.check("mallory", "x").unwrap_err();
    assert_eq!(
        wrong, unknown,
        "no way to tell unknown users from wrong passwords"
    );
    let credentials = Credentials {
        method: METHOD_BASIC,
        data: b"no-colon",
        peer_certificates: None,
    };
    assert!(provider.authenticate(&credentials).is_err());
    assert!(BasicProvider::parse("just-a-user\n").is_err());
}

fn certificate(common_name: &str) -> CertificateDer<'static> {
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, common_name);
    let key = rcgen::KeyPair::generate().unwrap();
    params.self_signed(&key).unwrap().der().clone()
}

#[test]
fn tls_identity_is_the_certificate_common_name() {
    let cert = certificate("client-a");
    assert_eq!(common_name(cert.as_ref()).as_deref(), Some("client-a"));
    let chain = [cert];
    let authenticator = Authenticator::new(vec![Arc::new(TlsProvider)]);
    // No method named: a TLS client with a certificate is authenticated by it.
    let identity = authenticator
        .authenticate(None, b"", Some(&chain), None)
        .unwrap();
    assert_eq!(identity.role, "client-a");
    assert_eq!(
        authenticator.authenticate(Some("tls"), b"", None, None),
        Err(AuthError::invalid(
            "tls",
            "no client certificate was presented over TLS"
        ))
    );
}

#[test]
fn the_authenticator_falls_back_to_the_anonymous_role_only_without_credentials() {
    let authenticator = Authenticator::new(vec![Arc::new(
        TokenProvider::new(&secret_config()).unwrap(),
    )]);
    assert_eq!(
        authenticator.authenticate(None, b"", None, None),
        Err(AuthError::Missing)
    );
    let anonymous = authenticator
        .authenticate(Some("none"), b"", None, Some("guest"))
        .unwrap();
    assert_eq!(anonymous.role, "guest");
    // Wrong credentials are refused, not downgraded to anonymous.
    assert!(authenticator
        .authenticate(Some("token"), b"junk", None, Some("guest"))
        .is_err());
    assert!(matches!(
        authenticator.authenticate(Some("basic"), b"a:b", None, Some("guest")),
        Err(AuthError::UnknownMethod { .. })
    ));
}

/// A metadata service with tenant `acme` (admin `acme-admin`), namespace `acme/ns` granting
/// `reader` consume on everything, `writer` produce on `x`, and subscription `locked` only to
/// `reader-2`.
fn metadata() -> MetadataService {
    let svc = MetadataService::new(Arc::new(MemoryMetadataStore::default()), 4);
    svc.bootstrap("standalone", &ClusterData::default())
        .unwrap();
    let tenant = TenantInfo {
        admin_roles: BTreeSet::from(["acme-admin".to_owned()]),
        allowed_clusters: BTreeSet::from(["standalone".to_owned()]),
        ..TenantInfo::default()
    };
    svc.create_tenant("acme", &tenant).unwrap();
    let ns = NamespaceName::parse("acme/ns").unwrap();
    svc.create_namespace(&ns, Default::default()).unwrap();
    svc.update_policies(&ns, |p| {
        p.auth_policies = serde_json::from_value(json!({
            "namespace_auth": {"reader": ["consume"], "reader-2": ["consume"]},
            "destination_auth": {"persistent://acme/ns/x": {"writer": ["produce"]}},
            "subscription_auth_roles": {"locked": ["reader-2"]}
        }))
        .unwrap();
        Ok(())
    })
    .unwrap();
    svc
}

fn check(svc: &MetadataService, role: Option<&str>) -> AccessCheck {
    let security = Security::new(
        None,
        Some(Authorizer::new(BTreeSet::from(["root".to_owned()]))),
        None,
        Limits::default(),
    );
    AccessCheck::new(Arc::new(security), svc.clone(), role.map(str::to_owned))
}

fn t(name: &str) -> TopicName {
    TopicName::parse(name).unwrap()
}

fn refused(result: Result<(), RequestError>) -> bool {
    matches!(result, Err(RequestError::NotAuthorized { .. }))
}

#[test]
fn topic_operations_follow_grants_admins_and_superusers() {
    let svc = metadata();
    let x = t("persistent://acme/ns/x");
    let y = t("persistent://acme/ns/y-partition-2");
    let consume = |s: &str| TopicOperation::Consume {
        subscription: Some(s.to_owned()),
    };
    let writer = check(&svc, Some("writer"));
    assert!(writer.topic(&x, &TopicOperation::Produce).is_ok());
    assert!(writer.topic(&x, &TopicOperation::Lookup).is_ok());
    assert!(refused(writer.topic(&x, &consume("s"))));
    assert!(refused(writer.topic(&y, &TopicOperation::Lookup)));
    let reader = check(&svc, Some("reader"));
    assert!(reader.topic(&y, &consume("s")).is_ok());
    assert!(refused(reader.topic(&y, &TopicOperation::Produce)));
    assert!(refused(reader.topic(&y, &consume("locked"))));
    assert!(check(&svc, Some("reader-2"))
        .topic(&y, &consume("locked"))
        .is_ok());
    assert!(refused(reader.topic(&y, &TopicOperation::Admin)));
    for role in ["acme-admin", "root"] {
        let admin = check(&svc, Some(role));
        assert!(admin.topic(&y, &TopicOperation::Admin).is_ok(), "{role}");
        assert!(admin.topic(&y, &TopicOperation::Produce).is_ok(), "{role}");
    }
    let stranger = check(&svc, Some("stranger"));
    assert!(refused(stranger.topic(&x, &TopicOperation::Lookup)));
    assert!(refused(
        check(&svc, None).topic(&x, &TopicOperation::Lookup)
    ));
    // Unknown tenants and namespaces refuse the same way (nothing to learn from the answer).
    assert!(refused(
        stranger.topic(&t("persistent://ghost/ns/x"), &TopicOperation::Lookup)
    ));
    assert!(check(&svc, Some("root"))
        .topic(&t("persistent://ghost/ns/x"), &TopicOperation::Lookup)
        .is_ok());
}

#[test]
fn grants_and_revokes_through_the_permissions_api_decide() {
    let svc = metadata();
    let z = t("persistent://acme/ns/z-partition-1");
    let ns = NamespaceName::parse("acme/ns").unwrap();
    let late = check(&svc, Some("late"));
    let op = TopicOperation::Consume { subscription: None };
    assert!(refused(late.topic(&z, &op)));
    svc.grant_topic_permission(&z, "late", BTreeSet::from([AuthAction::Consume]))
        .unwrap();
    assert!(
        late.topic(&z, &op).is_ok(),
        "a grant on the base name covers partitions"
    );
    assert!(refused(late.topic(&t("persistent://acme/ns/x"), &op)));
    svc.revoke_topic_permission(&z, "late").unwrap();
    assert!(refused(late.topic(&z, &op)));
    svc.grant_namespace_permission(&ns, "late", BTreeSet::from([AuthAction::Produce]))
        .unwrap();
    assert!(late.topic(&z, &TopicOperation::Produce).is_ok());
    svc.revoke_namespace_permission(&ns, "late").unwrap();
    assert!(refused(late.topic(&z, &TopicOperation::Produce)));
}

#[test]
fn topic_lists_show_only_what_the_role_may_see() {
    let svc = metadata();
    let ns = NamespaceName::parse("acme/ns").unwrap();
    let all = vec![
        "persistent://acme/ns/x".to_owned(),
        "persistent://acme/ns/y".to_owned(),
    ];
    assert_eq!(
        check(&svc, Some("reader"))
            .visible_topics(&ns, all.clone())
            .unwrap(),
        all
    );
    assert_eq!(
        check(&svc, Some("writer"))
            .visible_topics(&ns, all.clone())
            .unwrap(),
        ["persistent://acme/ns/x"]
    );
    assert!(matches!(
        check(&svc, Some("stranger")).visible_topics(&ns, all),
        Err(RequestError::NotAuthorized { .. })
    ));
    let admin_only = check(&svc, Some("reader")).namespace(&ns, NamespaceOperation::Admin);
    assert!(refused(admin_only));
    assert!(check(&svc, Some("acme-admin"))
        .namespace(&ns, NamespaceOperation::Admin)
        .is_ok());
}

#[test]
fn with_authorization_off_everything_passes() {
    let svc = metadata();
    let open = AccessCheck::new(Security::open(), svc, None);
    assert!(open
        .topic(&t("persistent://acme/ns/x"), &TopicOperation::Admin)
        .is_ok());
    assert!(open.superuser().is_ok());
    assert!(!open.enforced());
}

#[test]
fn connection_limits_count_per_address_and_in_total() {
    let limiter = ConnectionLimiter::new(3, 2);
    let a = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1));
    let b = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
    let first = limiter.admit(a).unwrap();
    let _second = limiter.admit(a).unwrap();
    assert!(matches!(
        limiter.admit(a),
        Err(LimitExceeded::ConnectionsPerIp { limit: 2, .. })
    ));
    let _third = limiter.admit(b).unwrap();
    assert!(matches!(
        limiter.admit(b),
        Err(LimitExceeded::Connections { limit: 3 })
    ));
    drop(first);
    assert_eq!(limiter.open(), 2);
    assert!(limiter.admit(a).is_ok());
}

#[test]
fn lookup_permits_count_broker_wide_and_per_connection() {
    let limiter = LookupLimiter::new(2);
    let connection = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let one = limiter.acquire().unwrap().counting(connection.clone());
    let _two = limiter.acquire().unwrap();
    assert!(limiter.acquire().is_err());
    assert_eq!(connection.load(std::sync::atomic::Ordering::Acquire), 1);
    drop(one);
    assert_eq!(limiter.in_flight(), 1);
    assert_eq!(connection.load(std::sync::atomic::Ordering::Acquire), 0);
    assert!(LookupLimiter::new(0).acquire().is_ok(), "0 = unlimited");
}

#[test]
fn auth_policies_are_read_from_pulsars_json_form() {
    let policies: crate::metadata::Policies = serde_json::from_value(json!({
        "auth_policies": {"namespace_auth": {"r": ["produce", "consume"]}}
    }))
    .unwrap();
    let p = Permissions::of("r", None, None, &[auth_policies(&policies)]);
    assert!(p.has(AuthAction::Produce) && p.has(AuthAction::Consume));
    assert!(!p.has(AuthAction::Sinks));
    let empty = crate::metadata::Policies::default();
    assert_eq!(auth_policies(&empty), &AuthPolicies::default());
}
