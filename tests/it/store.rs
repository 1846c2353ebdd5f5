//! The store suite, run on SQLite and on PostgreSQL (a private database per test).

use std::future::Future;

use dbward_core::config::StoreKind;
use dbward_core::crypto::password::make_verifiers;
use dbward_core::crypto::{MasterKey, Secret};
use dbward_core::model::{AccessLevel, Engine, GrantState, Permission, UserKind, builtin};
use dbward_core::store::{
    Actor, DatabaseInput, DatabasePatch, GrantFilter, GrantInput, KeyCheck, NewUser, QuotaKind,
    ReorderItem, RoleInput, RolePatch, Store, StoreError, UserPatch,
};
use time::Duration;

use crate::harness::PgDatabase;

async fn with_sqlite<F, Fut>(test: F)
where
    F: FnOnce(Store) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("store.db").display());
    let store = bind_chain(Store::open(&url).await.expect("open sqlite store")).await;
    assert_eq!(store.kind(), StoreKind::Sqlite);
    store.ensure_builtin_roles().await.expect("roles");
    test(store.clone()).await;
    assert_chain_verifies(&store).await;
    store.close().await;
}

async fn with_postgres<F, Fut>(test: F)
where
    F: FnOnce(Store) -> Fut,
    Fut: Future<Output = ()>,
{
    let db = PgDatabase::create().await;
    let store = bind_chain(Store::open(&db.url).await.expect("open postgres store")).await;
    assert_eq!(store.kind(), StoreKind::Postgres);
    store.ensure_builtin_roles().await.expect("roles");
    test(store.clone()).await;
    assert_chain_verifies(&store).await;
    store.close().await;
    drop(db);
}

/// The master key the suite's audit chains are linked under.
fn suite_key() -> MasterKey {
    MasterKey::from_bytes([9; 32])
}

/// Asserts that every audit chain of `store` verifies.
async fn assert_chain_verifies(store: &Store) {
    let report = store
        .verify_audit(
            &dbward_core::audit::chain::ChainKey::new(&suite_key()),
            None,
        )
        .await
        .expect("verify");
    assert!(report.ok, "{report:?}");
}

/// Binds a store to an audit chain under a fresh key, as dbward does at start: every suite
/// test then writes chained audit rows, and checks at its end that the chain verifies.
async fn bind_chain(store: Store) -> Store {
    store
        .bind_audit_chain(
            dbward_core::audit::chain::ChainKey::new(&suite_key()),
            "suite".into(),
        )
        .await
        .expect("bind the audit chain")
}

/// Generates one test per backend for a suite function `fn(Store) -> impl Future`.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::with_sqlite(super::suite::$name).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::with_postgres(super::suite::$name).await;
            }
        }
    )*};
}

on_both_backends!(
    users_and_roles,
    builtin_roles_are_protected,
    last_admin_is_protected,
    databases_seal_secrets,
    folders_and_reorder,
    grants_windows_and_revocation,
    failed_mutations_write_nothing,
    master_key_check,
    concurrent_writes_queue,
    quota_reservations,
    session_facts,
    audit_search_reads_folded_executions,
);

/// A grant with a query limit on a fresh user and database.
async fn quota_grant(store: &Store, max_queries: Option<i64>) -> i64 {
    let n = uuid::Uuid::new_v4().simple().to_string();
    let user = new_user(store, &format!("q{}", &n[..8]), &["user"]).await;
    let db = store
        .create_database(
            &actor(),
            &MasterKey::generate(),
            &pg_input(&format!("qdb{}", &n[..8])),
        )
        .await
        .expect("db");
    let now = dbward_core::time::now();
    store
        .create_grant(
            &actor(),
            &GrantInput {
                user_id: user,
                database_id: db.id,
                access_level: AccessLevel::Read,
                starts_at: now - Duration::hours(1),
                expires_at: now + Duration::hours(1),
                max_queries,
                max_bytes: None,
                statement_timeout_ms: None,
            },
        )
        .await
        .expect("grant")
        .id
}

/// Two dbward instances sharing one PostgreSQL store hold a grant's limit together.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quota_holds_across_instances_sharing_a_postgres_store() {
    let db = PgDatabase::create().await;
    let a = Store::open(&db.url).await.expect("instance a");
    a.ensure_builtin_roles().await.expect("roles");
    let b = Store::open(&db.url).await.expect("instance b");
    let grant = quota_grant(&a, Some(500)).await;
    let total = reserve_concurrently(&[a.clone(), b.clone()], grant, 10, 8).await;
    assert_eq!(total, 500);
    a.close().await;
    b.close().await;
}

/// Reserves `block`-sized quota from `grant` through every store in `stores` at once (each
/// store used by `tasks_per_store` tasks) until the limit is reached; the units handed out.
async fn reserve_concurrently(
    stores: &[Store],
    grant: i64,
    block: i64,
    tasks_per_store: usize,
) -> i64 {
    let mut tasks = Vec::new();
    for store in stores {
        for _ in 0..tasks_per_store {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                let mut got = 0;
                loop {
                    let n = store
                        .reserve_quota(grant, QuotaKind::Queries, block)
                        .await
                        .expect("reserve");
                    if n == 0 {
                        return got;
                    }
                    got += n;
                }
            }));
        }
    }
    let mut total = 0;
    for t in tasks {
        total += t.await.expect("join");
    }
    total
}

fn actor() -> Actor {
    Actor {
        user_id: None,
        username: "tester".into(),
        client_addr: Some("127.0.0.1".into()),
    }
}

async fn audit_count(store: &Store) -> usize {
    store
        .list_audit(&dbward_core::store::AuditFilter::default(), 1000, None)
        .await
        .expect("audit")
        .len()
}

async fn new_user(store: &Store, name: &str, roles: &[&str]) -> i64 {
    let mut role_ids = Vec::new();
    for r in roles {
        role_ids.push(store.get_role_by_name(r).await.expect("role").id);
    }
    store
        .create_user(
            &actor(),
            &NewUser {
                username: name.into(),
                kind: UserKind::Local,
                verifiers: Some(make_verifiers("pw-for-store-tests", 4096)),
                enabled: true,
                role_ids,
                mysql_native_sealed: None,
            },
        )
        .await
        .expect("create user")
        .id
}

fn pg_input(name: &str) -> DatabaseInput {
    DatabaseInput {
        name: name.into(),
        engine: Engine::Postgres,
        redshift: false,
        host: "127.0.0.1".into(),
        port: None,
        database: "app".into(),
        username: "app_owner".into(),
        password: Some(Secret::new("upstream-secret-Kx9!".into())),
        read_username: Some("app_reader".into()),
        read_password: Some(Secret::new("read-secret-Qz7!".into())),
        tls_mode: None,
        tls_ca_cert: None,
        tls_client_cert: None,
        tls_client_key: None,
        require_channel_binding: false,
        mysql_server_public_key: None,
        folder_id: None,
        position: 0,
        description: String::new(),
    }
}

mod suite {
    use super::*;

    /// A statement row standing for several executions (`details.more_statements`): the text
    /// search finds it by any execution's text, each text taken on its own and unescaped
    /// (quotes, backslashes), and the chain still verifies.
    pub async fn audit_search_reads_folded_executions(store: Store) {
        use dbward_core::audit::{AuditEvent, EventContext, StatementFacts};
        let store = bind_chain(store).await;
        let event = |first: &str, more: Option<Vec<&str>>| AuditEvent {
            at: 1_700_000_000_000_000,
            kind: "statement",
            actor: actor(),
            entry: dbward_core::store::AdminAuditEntry::success(
                "statement.allowed",
                "session",
                None,
                serde_json::Value::Null,
            ),
            context: EventContext {
                session_id: Some("s-fold".into()),
                statement: Some(first.to_owned()),
                ..EventContext::default()
            },
            committed: None,
            token: None,
            facts: Some(StatementFacts {
                executions: more
                    .as_ref()
                    .map(|m| u32::try_from(m.len() + 1).expect("few")),
                more_statements: more.map(|m| m.into_iter().map(str::to_owned).collect()),
                ..StatementFacts::default()
            }),
        };
        store
            .audit_events(&[
                event(
                    "SELECT a FROM t WHERE name = 'x'",
                    Some(vec![
                        r#"SELECT a FROM t WHERE name = 'O"Brien\'"#,
                        "SELECT a FROM t WHERE name = 'zed'",
                    ]),
                ),
                event("SELECT more_statements FROM t", None),
            ])
            .await
            .expect("write");
        let search = |text: &str| {
            let store = store.clone();
            let text = text.to_owned();
            async move {
                store
                    .list_audit(
                        &dbward_core::store::AuditFilter {
                            text: Some(text),
                            ..Default::default()
                        },
                        10,
                        None,
                    )
                    .await
                    .expect("search")
                    .into_iter()
                    .map(|r| r.statement.unwrap_or_default())
                    .collect::<Vec<_>>()
            }
        };
        let folded = vec!["SELECT a FROM t WHERE name = 'x'".to_owned()];
        assert_eq!(search("'ZED'").await, folded, "a later execution's text");
        assert_eq!(search(r#"o"brien\'"#).await, folded, "unescaped");
        assert_eq!(search("name = 'x'").await, folded, "the row's own text");
        assert!(search("name = 'y'").await.is_empty());
        assert!(
            search("zed', '").await.is_empty(),
            "texts are searched one by one, not as the JSON list"
        );
        assert_eq!(
            search("more_statements").await.len(),
            1,
            "the key is no text"
        );
        assert_chain_verifies(&store).await;
    }

    /// The session watcher's batched question: revoked and missing grants, disabled and
    /// deleted users, removed databases, and which database edits change the connection
    /// version (a description or a folder does not; a password does), with more ids than one
    /// `IN` list takes.
    pub async fn session_facts(store: Store) {
        let key = MasterKey::generate();
        let alice = new_user(&store, "alice", &["user"]).await;
        let bob = new_user(&store, "bob", &["user"]).await;
        let carol = new_user(&store, "carol", &["user"]).await;
        let db = store
            .create_database(&actor(), &key, &pg_input("orders"))
            .await
            .expect("db");
        let other = store
            .create_database(&actor(), &key, &pg_input("billing"))
            .await
            .expect("db");
        assert_ne!(db.connection_version, 0);
        let now = dbward_core::time::now();
        let grant = |user_id| GrantInput {
            user_id,
            database_id: db.id,
            access_level: AccessLevel::Read,
            starts_at: now - Duration::hours(1),
            expires_at: now + Duration::hours(1),
            max_queries: None,
            max_bytes: None,
            statement_timeout_ms: None,
        };
        let kept = store
            .create_grant(&actor(), &grant(alice))
            .await
            .expect("grant");
        let revoked = store
            .create_grant(&actor(), &grant(bob))
            .await
            .expect("grant");
        store
            .revoke_grant(&actor(), revoked.id)
            .await
            .expect("revoke");
        store
            .update_user(
                &actor(),
                bob,
                &UserPatch {
                    enabled: Some(false),
                    ..UserPatch::default()
                },
            )
            .await
            .expect("disable");
        store.delete_user(&actor(), carol).await.expect("delete");
        let folder = store.create_folder(&actor(), "prod").await.expect("folder");
        let moved = store
            .update_database(
                &actor(),
                &key,
                db.id,
                &DatabasePatch {
                    description: Some("the orders".into()),
                    folder_id: Some(Some(folder.id)),
                    name: Some("orders2".into()),
                    ..DatabasePatch::default()
                },
            )
            .await
            .expect("describe");
        assert_eq!(
            moved.connection_version, db.connection_version,
            "not a connection change"
        );
        let rotated = store
            .update_database(
                &actor(),
                &key,
                other.id,
                &DatabasePatch {
                    password: Some(Some(Secret::new("rotated-secret-Lm3!".into()))),
                    ..DatabasePatch::default()
                },
            )
            .await
            .expect("rotate");
        assert_ne!(rotated.connection_version, other.connection_version);
        let removed = store
            .create_database(&actor(), &key, &pg_input("gone"))
            .await
            .expect("db");
        store
            .delete_database(&actor(), removed.id)
            .await
            .expect("delete");

        // 700 ids each (two IN lists), with repeats and ids that do not exist.
        let pad = |ids: &[i64]| -> Vec<i64> {
            let mut all: Vec<i64> = ids.iter().copied().cycle().take(200).collect();
            all.extend(100_000..100_500);
            all
        };
        let facts = store
            .session_facts(
                &pad(&[kept.id, revoked.id]),
                &pad(&[alice, bob, carol]),
                &pad(&[db.id, other.id, removed.id]),
            )
            .await
            .expect("facts");
        assert_eq!(
            facts.grants,
            [(kept.id, false), (revoked.id, true)].into(),
            "missing grants are absent"
        );
        assert_eq!(facts.usable_users, [alice].into());
        assert_eq!(
            facts.databases,
            [
                (db.id, db.connection_version),
                (other.id, rotated.connection_version)
            ]
            .into()
        );
    }

    pub async fn users_and_roles(store: Store) {
        let roles = store.list_roles().await.expect("roles");
        let names: Vec<_> = roles.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["admin", "user"]);

        let before = audit_count(&store).await;
        let id = new_user(&store, "alice", &["user"]).await;
        assert_eq!(audit_count(&store).await, before + 1, "create is audited");
        let alice = store.get_user(id).await.expect("get");
        assert_eq!(alice.username, "alice");
        assert!(alice.permissions.contains(&Permission::ExecuteSqlRead));
        assert!(!alice.permissions.contains(&Permission::ManageUsers));

        let auth = store
            .user_auth("alice")
            .await
            .expect("auth")
            .expect("exists");
        assert!(
            auth.password_hash
                .as_deref()
                .is_some_and(|h| h.starts_with("$argon2id$"))
        );
        assert!(
            auth.scram_verifier
                .as_deref()
                .is_some_and(|v| v.starts_with("SCRAM-SHA-256$4096:"))
        );

        let dup = store
            .create_user(
                &actor(),
                &NewUser {
                    username: "alice".into(),
                    kind: UserKind::Ldap,
                    verifiers: None,
                    enabled: true,
                    role_ids: vec![],
                    mysql_native_sealed: None,
                },
            )
            .await;
        assert!(matches!(dup, Err(StoreError::Conflict(_))), "{dup:?}");

        // A custom role, assigned, then deleted: the user loses it.
        let auditor = store
            .create_role(
                &actor(),
                &RoleInput {
                    name: "auditor".into(),
                    description: "reads the trail".into(),
                    permissions: [Permission::ApiAccess, Permission::ViewAudit]
                        .into_iter()
                        .collect(),
                },
            )
            .await
            .expect("role");
        let user_role = store.get_role_by_name(builtin::USER).await.expect("role");
        store
            .update_user(
                &actor(),
                id,
                &UserPatch {
                    enabled: None,
                    role_ids: Some(vec![user_role.id, auditor.id]),
                    clear_mysql_native: false,
                },
            )
            .await
            .expect("assign");
        let auth = store
            .user_auth("alice")
            .await
            .expect("auth")
            .expect("exists");
        assert!(auth.permissions.contains(&Permission::ViewAudit));
        store
            .delete_role(&actor(), auditor.id)
            .await
            .expect("delete role");
        let auth = store
            .user_auth("alice")
            .await
            .expect("auth")
            .expect("exists");
        assert!(!auth.permissions.contains(&Permission::ViewAudit));

        // Soft delete: history stays readable, the name becomes free.
        store.delete_user(&actor(), id).await.expect("delete");
        assert!(store.user_auth("alice").await.expect("auth").is_none());
        let gone = store.get_user(id).await.expect("still readable");
        assert!(gone.deleted_at.is_some() && !gone.enabled);
        assert!(
            !store
                .list_users(false)
                .await
                .expect("list")
                .iter()
                .any(|u| u.id == id)
        );
        assert!(
            store
                .list_users(true)
                .await
                .expect("list")
                .iter()
                .any(|u| u.id == id)
        );
        let again = new_user(&store, "alice", &["user"]).await;
        assert_ne!(again, id);
    }

    pub async fn builtin_roles_are_protected(store: Store) {
        let admin = store.get_role_by_name(builtin::ADMIN).await.expect("admin");
        let user = store.get_role_by_name(builtin::USER).await.expect("user");
        assert!(matches!(
            store.delete_role(&actor(), admin.id).await,
            Err(StoreError::Conflict(_))
        ));
        assert!(matches!(
            store.delete_role(&actor(), user.id).await,
            Err(StoreError::Conflict(_))
        ));
        let strip = RolePatch {
            permissions: Some([Permission::ApiAccess].into_iter().collect()),
            ..RolePatch::default()
        };
        let err = store
            .update_role(&actor(), user.id, &strip)
            .await
            .expect_err("strip");
        assert!(err.to_string().contains("execute_sql_read"), "{err}");
        let rename = RolePatch {
            name: Some("users".into()),
            ..RolePatch::default()
        };
        assert!(matches!(
            store.update_role(&actor(), admin.id, &rename).await,
            Err(StoreError::Conflict(_))
        ));
        // Adding to a built-in role is fine.
        let mut more = user.permissions.clone();
        more.insert(Permission::ViewAudit);
        let patched = store
            .update_role(
                &actor(),
                user.id,
                &RolePatch {
                    permissions: Some(more),
                    ..RolePatch::default()
                },
            )
            .await
            .expect("add");
        assert!(patched.permissions.contains(&Permission::ViewAudit));
    }

    pub async fn last_admin_is_protected(store: Store) {
        let a = new_user(&store, "admin1", &["admin"]).await;
        let b = new_user(&store, "admin2", &["admin"]).await;
        store
            .update_user(
                &actor(),
                a,
                &UserPatch {
                    enabled: Some(false),
                    role_ids: None,
                    clear_mysql_native: false,
                },
            )
            .await
            .expect("one of two admins can be disabled");
        let err = store
            .update_user(
                &actor(),
                b,
                &UserPatch {
                    enabled: Some(false),
                    role_ids: None,
                    clear_mysql_native: false,
                },
            )
            .await
            .expect_err("last admin");
        assert!(err.to_string().contains("last enabled admin"), "{err}");
        assert!(matches!(
            store.delete_user(&actor(), b).await,
            Err(StoreError::Conflict(_))
        ));
        let user_role = store
            .get_role_by_name(builtin::USER)
            .await
            .expect("role")
            .id;
        assert!(matches!(
            store
                .update_user(
                    &actor(),
                    b,
                    &UserPatch {
                        enabled: None,
                        role_ids: Some(vec![user_role]),
                        clear_mysql_native: false,
                    }
                )
                .await,
            Err(StoreError::Conflict(_))
        ));
        store
            .update_user(
                &actor(),
                a,
                &UserPatch {
                    enabled: Some(true),
                    role_ids: None,
                    clear_mysql_native: false,
                },
            )
            .await
            .expect("re-enable");
        store.delete_user(&actor(), b).await.expect("now b may go");
    }

    pub async fn databases_seal_secrets(store: Store) {
        let key = MasterKey::generate();
        let db = store
            .create_database(&actor(), &key, &pg_input("orders"))
            .await
            .expect("create");
        assert_eq!(db.port, 5432);
        assert!(db.has_password && db.has_read_password);
        assert_eq!(db.tls_mode.as_str(), "prefer", "loopback default");
        let creds = store.database_credentials(&key, db.id).await.expect("open");
        assert_eq!(creds.password.expect("pw").expose(), "upstream-secret-Kx9!");
        assert_eq!(
            creds.read_password.expect("pw").expose(),
            "read-secret-Qz7!"
        );
        let other = MasterKey::generate();
        assert!(
            store.database_credentials(&other, db.id).await.is_err(),
            "other key fails"
        );

        let audit = serde_json::to_string(
            &store
                .list_audit(&dbward_core::store::AuditFilter::default(), 100, None)
                .await
                .expect("audit"),
        )
        .expect("json");
        assert!(!audit.contains("upstream-secret") && !audit.contains("read-secret"));

        let dup = store
            .create_database(&actor(), &key, &pg_input("orders"))
            .await;
        assert!(matches!(dup, Err(StoreError::Conflict(_))), "{dup:?}");

        // Absent keeps, null clears, a value reseals.
        let kept = store
            .update_database(
                &actor(),
                &key,
                db.id,
                &DatabasePatch {
                    port: Some(6543),
                    ..DatabasePatch::default()
                },
            )
            .await
            .expect("patch");
        assert!(kept.has_password && kept.port == 6543);
        let cleared = store
            .update_database(
                &actor(),
                &key,
                db.id,
                &DatabasePatch {
                    password: Some(None),
                    read_username: Some(None),
                    ..DatabasePatch::default()
                },
            )
            .await
            .expect("patch");
        assert!(
            !cleared.has_password && !cleared.has_read_password && cleared.read_username.is_none()
        );
        store
            .update_database(
                &actor(),
                &key,
                db.id,
                &DatabasePatch {
                    password: Some(Some(Secret::new("new-password-789".into()))),
                    ..DatabasePatch::default()
                },
            )
            .await
            .expect("patch");
        let creds = store.database_credentials(&key, db.id).await.expect("open");
        assert_eq!(creds.password.expect("pw").expose(), "new-password-789");

        // Validation.
        let mut bad = pg_input("bad name");
        assert!(matches!(
            store.create_database(&actor(), &key, &bad).await,
            Err(StoreError::Invalid(_))
        ));
        bad = pg_input("mysql_redshift");
        bad.engine = Engine::Mysql;
        bad.redshift = true;
        assert!(matches!(
            store.create_database(&actor(), &key, &bad).await,
            Err(StoreError::Invalid(_))
        ));
        bad = pg_input("no_folder");
        bad.folder_id = Some(9999);
        assert!(matches!(
            store.create_database(&actor(), &key, &bad).await,
            Err(StoreError::NotFound("folder"))
        ));

        // Soft delete frees the name; the old row stays out of lists.
        store
            .delete_database(&actor(), db.id)
            .await
            .expect("delete");
        assert!(matches!(
            store.get_database(db.id).await,
            Err(StoreError::NotFound(_))
        ));
        let again = store
            .create_database(&actor(), &key, &pg_input("orders"))
            .await
            .expect("recreate");
        assert_eq!(
            store
                .get_database_by_name("orders")
                .await
                .expect("by name")
                .id,
            again.id
        );
    }

    pub async fn folders_and_reorder(store: Store) {
        let key = MasterKey::generate();
        let prod = store
            .create_folder(&actor(), "Production")
            .await
            .expect("folder");
        assert!(matches!(
            store.create_folder(&actor(), "Production").await,
            Err(StoreError::Conflict(_))
        ));
        let mut input = pg_input("billing");
        input.folder_id = Some(prod.id);
        let billing = store
            .create_database(&actor(), &key, &input)
            .await
            .expect("db");
        let crm = store
            .create_database(&actor(), &key, &pg_input("crm"))
            .await
            .expect("db");
        store
            .reorder_databases(
                &actor(),
                &[
                    ReorderItem {
                        id: crm.id,
                        folder_id: Some(prod.id),
                        position: 0,
                    },
                    ReorderItem {
                        id: billing.id,
                        folder_id: Some(prod.id),
                        position: 1,
                    },
                ],
            )
            .await
            .expect("reorder");
        let list = store.list_databases().await.expect("list");
        let order: Vec<_> = list
            .iter()
            .map(|d| (d.name.as_str(), d.folder_id, d.position))
            .collect();
        assert_eq!(
            order,
            [("crm", Some(prod.id), 0), ("billing", Some(prod.id), 1)]
        );
        // A reorder naming a missing database changes nothing.
        let err = store
            .reorder_databases(
                &actor(),
                &[
                    ReorderItem {
                        id: crm.id,
                        folder_id: None,
                        position: 5,
                    },
                    ReorderItem {
                        id: 9999,
                        folder_id: None,
                        position: 0,
                    },
                ],
            )
            .await;
        assert!(matches!(err, Err(StoreError::NotFound("database"))));
        assert_eq!(store.get_database(crm.id).await.expect("db").position, 0);

        let renamed = store
            .rename_folder(&actor(), prod.id, "Prod")
            .await
            .expect("rename");
        assert_eq!(renamed.name, "Prod");
        store
            .delete_folder(&actor(), prod.id)
            .await
            .expect("delete");
        assert!(
            store
                .list_databases()
                .await
                .expect("list")
                .iter()
                .all(|d| d.folder_id.is_none())
        );
    }

    pub async fn grants_windows_and_revocation(store: Store) {
        let key = MasterKey::generate();
        let alice = new_user(&store, "alice", &["user"]).await;
        let bob = new_user(&store, "bob", &["user"]).await;
        let db = store
            .create_database(&actor(), &key, &pg_input("orders"))
            .await
            .expect("db");
        let now = dbward_core::time::now();
        let grant = |level, start: Duration, end: Duration| GrantInput {
            user_id: alice,
            database_id: db.id,
            access_level: level,
            starts_at: now + start,
            expires_at: now + end,
            max_queries: Some(1000),
            max_bytes: None,
            statement_timeout_ms: None,
        };
        let read = store
            .create_grant(
                &actor(),
                &grant(AccessLevel::Read, -Duration::hours(1), Duration::hours(8)),
            )
            .await
            .expect("read");
        let write_short = store
            .create_grant(
                &actor(),
                &grant(AccessLevel::Write, -Duration::hours(1), Duration::hours(1)),
            )
            .await
            .expect("write");
        let write_long = store
            .create_grant(
                &actor(),
                &grant(AccessLevel::Write, -Duration::hours(1), Duration::hours(2)),
            )
            .await
            .expect("write");
        let later = store
            .create_grant(
                &actor(),
                &grant(AccessLevel::Admin, Duration::hours(1), Duration::hours(2)),
            )
            .await
            .expect("pending");
        let _expired = store
            .create_grant(
                &actor(),
                &grant(AccessLevel::Admin, -Duration::hours(2), -Duration::hours(1)),
            )
            .await
            .expect("expired");
        assert_eq!(later.state(now), GrantState::Pending);
        assert_eq!(
            read.starts_at,
            now - Duration::hours(1),
            "microsecond precision round trip"
        );

        let chosen = store
            .active_grant(alice, db.id, now)
            .await
            .expect("q")
            .expect("some");
        assert_eq!(
            chosen.id, write_long.id,
            "highest level, then latest expiry"
        );
        assert!(
            store
                .active_grant(bob, db.id, now)
                .await
                .expect("q")
                .is_none()
        );

        store
            .revoke_grant(&actor(), write_long.id)
            .await
            .expect("revoke");
        assert!(matches!(
            store.revoke_grant(&actor(), write_long.id).await,
            Err(StoreError::Conflict(_))
        ));
        let revoked = store.get_grant(write_long.id).await.expect("kept");
        assert_eq!(revoked.state(now), GrantState::Revoked);
        assert_eq!(
            store
                .active_grant(alice, db.id, now)
                .await
                .expect("q")
                .expect("some")
                .id,
            write_short.id
        );

        let active = store
            .list_grants(
                &GrantFilter {
                    user_id: Some(alice),
                    active: Some(true),
                    ..GrantFilter::default()
                },
                now,
            )
            .await
            .expect("list");
        let mut ids: Vec<_> = active.iter().map(|g| g.id).collect();
        ids.sort_unstable();
        assert_eq!(ids, [read.id, write_short.id]);
        let inactive = store
            .list_grants(
                &GrantFilter {
                    active: Some(false),
                    ..GrantFilter::default()
                },
                now,
            )
            .await
            .expect("list");
        assert_eq!(inactive.len(), 3);
        assert!(
            store
                .list_grants(
                    &GrantFilter {
                        user_id: Some(bob),
                        ..GrantFilter::default()
                    },
                    now
                )
                .await
                .expect("list")
                .is_empty()
        );

        // Validation writes nothing.
        let before = audit_count(&store).await;
        assert!(matches!(
            store
                .create_grant(
                    &actor(),
                    &grant(AccessLevel::Read, Duration::hours(2), Duration::hours(1))
                )
                .await,
            Err(StoreError::Invalid(_))
        ));
        let mut neg = grant(AccessLevel::Read, Duration::ZERO, Duration::hours(1));
        neg.max_bytes = Some(-1);
        assert!(matches!(
            store.create_grant(&actor(), &neg).await,
            Err(StoreError::Invalid(_))
        ));
        let mut nouser = grant(AccessLevel::Read, Duration::ZERO, Duration::hours(1));
        nouser.user_id = 9999;
        assert!(matches!(
            store.create_grant(&actor(), &nouser).await,
            Err(StoreError::NotFound("user"))
        ));
        assert_eq!(audit_count(&store).await, before);

        // A deleted user's grants stay readable.
        store.delete_user(&actor(), alice).await.expect("delete");
        assert_eq!(store.get_grant(read.id).await.expect("kept").user_id, alice);
    }

    pub async fn failed_mutations_write_nothing(store: Store) {
        let users = store.list_users(true).await.expect("users").len();
        let audit = audit_count(&store).await;
        let missing_role = store
            .create_user(
                &actor(),
                &NewUser {
                    username: "carol".into(),
                    kind: UserKind::Local,
                    verifiers: Some(make_verifiers("x-password", 4096)),
                    enabled: true,
                    role_ids: vec![9999],
                    mysql_native_sealed: None,
                },
            )
            .await;
        assert!(matches!(missing_role, Err(StoreError::NotFound("role"))));
        let bad_name = store
            .create_user(
                &actor(),
                &NewUser {
                    username: "carol smith".into(),
                    kind: UserKind::Local,
                    verifiers: Some(make_verifiers("x-password", 4096)),
                    enabled: true,
                    role_ids: vec![],
                    mysql_native_sealed: None,
                },
            )
            .await;
        assert!(matches!(bad_name, Err(StoreError::Invalid(_))));
        assert_eq!(store.list_users(true).await.expect("users").len(), users);
        assert_eq!(audit_count(&store).await, audit);
    }

    pub async fn master_key_check(store: Store) {
        let a = MasterKey::generate();
        assert_eq!(
            store.verify_master_key(&a).await.expect("init"),
            KeyCheck::Initialized
        );
        assert_eq!(
            store.verify_master_key(&a).await.expect("again"),
            KeyCheck::Matches
        );
        let err = store
            .verify_master_key(&MasterKey::generate())
            .await
            .expect_err("wrong key");
        assert!(
            err.to_string().contains("does not match this store"),
            "{err}"
        );
    }

    pub async fn quota_reservations(store: Store) {
        let grant = super::quota_grant(&store, Some(25)).await;
        assert_eq!(
            store
                .reserve_quota(grant, QuotaKind::Queries, 10)
                .await
                .expect("r"),
            10
        );
        assert_eq!(
            store
                .reserve_quota(grant, QuotaKind::Queries, 10)
                .await
                .expect("r"),
            10
        );
        // Near the limit: what is left.
        assert_eq!(
            store
                .reserve_quota(grant, QuotaKind::Queries, 10)
                .await
                .expect("r"),
            5
        );
        assert_eq!(
            store
                .reserve_quota(grant, QuotaKind::Queries, 10)
                .await
                .expect("r"),
            0
        );
        store
            .release_quota(grant, QuotaKind::Queries, 3)
            .await
            .expect("release");
        assert_eq!(
            store
                .reserve_quota(grant, QuotaKind::Queries, 10)
                .await
                .expect("r"),
            3
        );
        let g = store.get_grant(grant).await.expect("grant");
        assert_eq!((g.used_queries, g.remaining_queries()), (25, Some(0)));
        // Bytes on a grant without a limit: counted, never refused.
        assert_eq!(
            store
                .reserve_quota(grant, QuotaKind::Bytes, 1 << 40)
                .await
                .expect("r"),
            1 << 40
        );
        assert_eq!(
            store.get_grant(grant).await.expect("grant").used_bytes,
            1 << 40
        );
        // Concurrent reservations never pass the limit together.
        let grant = super::quota_grant(&store, Some(1000)).await;
        let total = super::reserve_concurrently(std::slice::from_ref(&store), grant, 7, 20).await;
        assert_eq!(total, 1000, "every unit handed out exactly once");
        assert_eq!(
            store.get_grant(grant).await.expect("grant").used_queries,
            1000
        );
    }

    pub async fn concurrent_writes_queue(store: Store) {
        // 20 writers at once: SQLite's single writer queues them, none fails with "locked".
        let mut tasks = Vec::new();
        for i in 0..20 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                store.create_folder(&actor(), &format!("folder-{i}")).await
            }));
        }
        for t in tasks {
            t.await
                .expect("join")
                .expect("every concurrent write succeeds");
        }
        assert_eq!(store.list_folders().await.expect("list").len(), 20);
    }
}

#[tokio::test]
async fn sqlite_store_newer_than_binary_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("store.db").display());
    Store::open(&url).await.expect("create").close().await;
    let pool = sqlx::SqlitePool::connect(&url).await.expect("raw");
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (99999, 'from the future', TRUE, X'00', 0)",
    )
    .execute(&pool)
    .await
    .expect("insert");
    pool.close().await;
    let err = Store::open(&url).await.expect_err("refused");
    assert!(matches!(err, StoreError::SchemaTooNew(99999)), "{err}");
}
