//! The whole authorization matrix: every caller kind × every target relation × every
//! security and multi-factor route × every method, compared with the spec's rule, which is
//! written once below and independently of `src/domain/permissions.rs`.
//!
//! The rule (README "Deliberate differences", api.md, auth.md): the account routes are for
//! super-duper admins and for admins (users with `priv_level: admin`, or API-key tokens) of
//! the account or of one of its ancestors; TOTP enrollment also for the user themself; the
//! system provider routes for super-duper admins only; `GET /v2/security` for anyone
//! authenticated and its writes for nobody. A method a path does not serve is 405 before
//! anything else; no token is 401.

mod common;

use std::collections::HashMap;

use common::{Acct, JAN_15_2024, TestApp};
use futures::StreamExt;
use kazoo_security::domain::ids::new_raw_id;
use kazoo_security::state::Clock;
use serde_json::{Value, json};

/// Where the target account stands relative to the caller's account.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Relation {
    Own,
    Ancestor,
    Descendant,
    Sibling,
    Unrelated,
}

/// Who calls.
#[derive(Debug, Clone)]
struct Caller {
    name: &'static str,
    token: Option<String>,
    /// A user with `priv_level: admin`, or an API-key token.
    admin: bool,
    /// The caller's account has `pvt_superduper_admin`.
    superduper_account: bool,
    user_id: Option<String>,
    /// Target accounts by relation.
    targets: Vec<(Relation, Acct)>,
}

/// Who a route admits.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Rule {
    /// Admins of the account or an ancestor, and super-duper admins.
    Manage,
    /// `Manage`, or the user named in the path.
    ManageOrSelf,
    SuperDuper,
    AnyAuthenticated,
    Nobody,
}

/// The spec's rule: whether `caller` may use a route guarded by `rule` on a target at
/// `relation` (`None` for routes without an account), the target user being the caller.
fn allowed(caller: &Caller, rule: Rule, relation: Option<Relation>, is_self: bool) -> bool {
    let superduper = caller.admin && caller.superduper_account;
    let manages = superduper
        || caller.admin && matches!(relation, Some(Relation::Own | Relation::Descendant));
    match rule {
        Rule::Manage => manages,
        Rule::ManageOrSelf => manages || is_self,
        Rule::SuperDuper => superduper,
        Rule::AnyAuthenticated => true,
        Rule::Nobody => false,
    }
}

const METHODS: [&str; 5] = ["GET", "PUT", "POST", "PATCH", "DELETE"];

/// One route of the spec: its path shape, and per method the rule and the success status.
struct RouteSpec {
    name: &'static str,
    methods: &'static [(&'static str, Rule, u16)],
    per_account: bool,
}

const ROUTES: [RouteSpec; 10] = [
    RouteSpec {
        name: "/v2/security",
        methods: &[
            ("GET", Rule::AnyAuthenticated, 200),
            ("PUT", Rule::Nobody, 200),
            ("POST", Rule::Nobody, 200),
            ("PATCH", Rule::Nobody, 200),
            ("DELETE", Rule::Nobody, 200),
        ],
        per_account: false,
    },
    RouteSpec {
        name: "/v2/accounts/{A}/security",
        methods: &[
            ("GET", Rule::Manage, 200),
            ("POST", Rule::Manage, 200),
            ("PATCH", Rule::Manage, 200),
            ("DELETE", Rule::Manage, 200),
        ],
        per_account: true,
    },
    RouteSpec {
        name: "/v2/accounts/{A}/security/attempts",
        methods: &[("GET", Rule::Manage, 200)],
        per_account: true,
    },
    RouteSpec {
        name: "/v2/accounts/{A}/security/attempts/{ID}",
        methods: &[("GET", Rule::Manage, 200)],
        per_account: true,
    },
    RouteSpec {
        name: "/v2/accounts/{A}/multi_factor",
        methods: &[("GET", Rule::Manage, 200), ("PUT", Rule::Manage, 201)],
        per_account: true,
    },
    RouteSpec {
        name: "/v2/accounts/{A}/multi_factor/attempts",
        methods: &[("GET", Rule::Manage, 200)],
        per_account: true,
    },
    RouteSpec {
        name: "/v2/accounts/{A}/multi_factor/{ID}",
        methods: &[
            ("GET", Rule::Manage, 200),
            ("POST", Rule::Manage, 200),
            ("PATCH", Rule::Manage, 200),
            ("DELETE", Rule::Manage, 200),
        ],
        per_account: true,
    },
    RouteSpec {
        name: "/v2/accounts/{A}/users/{U}/multi_factor/totp",
        methods: &[("PUT", Rule::ManageOrSelf, 200)],
        per_account: true,
    },
    RouteSpec {
        name: "/v2/multi_factor",
        methods: &[("GET", Rule::SuperDuper, 200)],
        per_account: false,
    },
    RouteSpec {
        name: "/v2/multi_factor/{ID}",
        methods: &[
            ("GET", Rule::SuperDuper, 200),
            ("POST", Rule::SuperDuper, 200),
            ("PATCH", Rule::SuperDuper, 200),
        ],
        per_account: false,
    },
];

/// One request of the matrix and what the rule expects of it.
struct Cell {
    caller: usize,
    route: &'static str,
    method: &'static str,
    relation: Option<Relation>,
    target: Option<Acct>,
    expected: u16,
}

/// What the matrix shares: the tree's fixtures and a lock per account for config writes.
struct Fixtures {
    attempt_ids: HashMap<String, String>,
    system_provider: String,
    config_locks: HashMap<String, tokio::sync::Mutex<()>>,
}

/// The accounts: M (super-duper, reseller) → R (reseller) → A → D; S under R; R2
/// (reseller) under M; U, the root of another tree.
struct Accounts {
    m: Acct,
    r: Acct,
    a: Acct,
    d: Acct,
    s: Acct,
    r2: Acct,
    u: Acct,
}

async fn accounts(app: &TestApp) -> Accounts {
    let m = app.superduper().await;
    let r = app.account(Some(&m), true).await;
    let a = app.account(Some(&r), false).await;
    let d = app.account(Some(&a), false).await;
    let s = app.account(Some(&r), false).await;
    let r2 = app.account(Some(&m), true).await;
    let u = app.account(None, true).await;
    Accounts {
        m,
        r,
        a,
        d,
        s,
        r2,
        u,
    }
}

async fn callers(app: &TestApp, t: &Accounts) -> Vec<Caller> {
    use Relation::*;
    let top = vec![
        (Own, t.m.clone()),
        (Descendant, t.r.clone()),
        (Descendant, t.a.clone()),
        (Descendant, t.d.clone()),
        (Unrelated, t.u.clone()),
    ];
    let reseller = vec![
        (Own, t.r.clone()),
        (Ancestor, t.m.clone()),
        (Descendant, t.a.clone()),
        (Descendant, t.d.clone()),
        (Sibling, t.r2.clone()),
        (Unrelated, t.u.clone()),
    ];
    let account = vec![
        (Own, t.a.clone()),
        (Ancestor, t.r.clone()),
        (Ancestor, t.m.clone()),
        (Descendant, t.d.clone()),
        (Sibling, t.s.clone()),
        (Unrelated, t.u.clone()),
    ];
    let user_caller = |name, acct: &Acct, admin, targets: &Vec<(Relation, Acct)>| {
        let acct = acct.clone();
        let targets = targets.clone();
        async move {
            let user = app.user(&acct, admin).await;
            let token = app.login(&acct, &user).await;
            Caller {
                name,
                token: Some(token),
                admin,
                superduper_account: acct.id == t.m.id,
                user_id: Some(user.id),
                targets,
            }
        }
    };
    vec![
        user_caller("super-duper admin", &t.m, true, &top).await,
        user_caller("plain user of the super-duper account", &t.m, false, &top).await,
        user_caller("reseller admin", &t.r, true, &reseller).await,
        user_caller("account admin", &t.a, true, &account).await,
        user_caller("plain user", &t.a, false, &account).await,
        Caller {
            name: "API-key token",
            token: Some(app.api_token(&t.a).await),
            admin: true,
            superduper_account: false,
            user_id: None,
            targets: account.clone(),
        },
        Caller {
            name: "no token",
            token: None,
            admin: false,
            superduper_account: false,
            user_id: None,
            targets: account,
        },
    ]
}

async fn fixtures(app: &TestApp, t: &Accounts) -> Fixtures {
    let all = [&t.m, &t.r, &t.a, &t.d, &t.s, &t.r2, &t.u];
    let mut attempt_ids = HashMap::new();
    let mut config_locks = HashMap::new();
    for acct in all {
        // A login leaves a success attempt in the account's month database.
        let user = app.user(acct, false).await;
        app.login(acct, &user).await;
        let attempts = app.attempts(acct, JAN_15_2024).await;
        let id = attempts[0]["_id"].as_str().unwrap().to_string();
        attempt_ids.insert(acct.id.clone(), id);
        config_locks.insert(acct.id.clone(), tokio::sync::Mutex::new(()));
    }
    let system_provider = new_raw_id();
    let doc = json!({"_id": system_provider, "name": "matrix", "provider_name": "duo",
        "enabled": false, "settings": {}, "pvt_type": "provider",
        "pvt_provider_type": "multi_factor", "pvt_account_id": "system_auth",
        "pvt_account_db": "system_auth"});
    app.couch().put("system_auth", &doc).await.unwrap();
    Fixtures {
        attempt_ids,
        system_provider,
        config_locks,
    }
}

fn cells(callers: &[Caller]) -> Vec<Cell> {
    let mut cells = Vec::new();
    for (index, caller) in callers.iter().enumerate() {
        for route in &ROUTES {
            let targets: Vec<(Option<Relation>, Option<Acct>)> = if route.per_account {
                caller
                    .targets
                    .iter()
                    .map(|(rel, acct)| (Some(*rel), Some(acct.clone())))
                    .collect()
            } else {
                vec![(None, None)]
            };
            for (relation, target) in targets {
                for method in METHODS {
                    let is_self = caller.user_id.is_some() && relation == Some(Relation::Own);
                    let expected = match route.methods.iter().find(|(m, ..)| *m == method) {
                        None => 405,
                        Some(_) if caller.token.is_none() => 401,
                        Some((_, rule, ok)) if allowed(caller, *rule, relation, is_self) => *ok,
                        Some(_) => 403,
                    };
                    cells.push(Cell {
                        caller: index,
                        route: route.name,
                        method,
                        relation,
                        target: target.clone(),
                        expected,
                    });
                }
            }
        }
    }
    cells
}

/// Runs one cell: prepares what a destructive method consumes, then asks.
async fn run(app: &TestApp, fx: &Fixtures, callers: &[Caller], cell: &Cell) -> (u16, Value) {
    let caller = &callers[cell.caller];
    let acct = cell.target.as_ref();
    let id = acct.map(|a| a.id.clone()).unwrap_or_default();
    let provider_body = json!({"data": {"name": "matrix", "provider_name": "duo",
        "enabled": false}});
    let mut body = None;
    let mut _lock = None;
    let path = match cell.route {
        "/v2/security" => "/v2/security".to_string(),
        "/v2/accounts/{A}/security" => {
            let acct = acct.unwrap();
            if cell.method != "GET" {
                _lock = Some(fx.config_locks[&acct.id].lock().await);
                app.store_config(acct, json!({"matrix": "before"})).await;
                body = Some(json!({"data": {"matrix": cell.method}}));
            }
            acct.security()
        }
        "/v2/accounts/{A}/security/attempts" => format!("/v2/accounts/{id}/security/attempts"),
        "/v2/accounts/{A}/security/attempts/{ID}" => {
            format!(
                "/v2/accounts/{id}/security/attempts/{}",
                fx.attempt_ids[&id]
            )
        }
        "/v2/accounts/{A}/multi_factor" => {
            body = Some(provider_body);
            format!("/v2/accounts/{id}/multi_factor")
        }
        "/v2/accounts/{A}/multi_factor/attempts" => {
            format!("/v2/accounts/{id}/multi_factor/attempts")
        }
        "/v2/accounts/{A}/multi_factor/{ID}" => {
            let provider = app.provider(acct.unwrap(), "matrix cell").await;
            body = Some(provider_body);
            format!("/v2/accounts/{id}/multi_factor/{provider}")
        }
        "/v2/accounts/{A}/users/{U}/multi_factor/totp" => {
            let user = match (&caller.user_id, cell.relation) {
                (Some(me), Some(Relation::Own)) => me.clone(),
                _ => app.user(acct.unwrap(), false).await.id,
            };
            body = Some(json!({"data": {}}));
            format!("/v2/accounts/{id}/users/{user}/multi_factor/totp")
        }
        "/v2/multi_factor" => "/v2/multi_factor".to_string(),
        "/v2/multi_factor/{ID}" => {
            body = Some(provider_body);
            format!("/v2/multi_factor/{}", fx.system_provider)
        }
        other => panic!("no request for {other}"),
    };
    let body = body.filter(|_| cell.method != "GET" && cell.method != "DELETE");
    let answer = app
        .send(cell.method, &path, caller.token.as_deref(), body)
        .await;
    (answer.status, answer.body)
}

#[tokio::test]
async fn every_caller_target_route_and_method_gets_what_the_rule_says() {
    let app = TestApp::spawn_with(Clock::fixed(JAN_15_2024)).await;
    let tree = accounts(&app).await;
    let callers = callers(&app, &tree).await;
    let fx = fixtures(&app, &tree).await;
    let cells = cells(&callers);

    let answers: Vec<(usize, u16, Value)> = futures::stream::iter(cells.iter().enumerate())
        .map(|(i, cell)| {
            let (app, fx, callers) = (&app, &fx, &callers);
            async move {
                let (status, body) = run(app, fx, callers, cell).await;
                (i, status, body)
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;

    let mut mismatches = Vec::new();
    let (mut grants, mut refusals, mut unexpected_grants, mut unexpected_refusals) = (0, 0, 0, 0);
    for (i, status, body) in &answers {
        let cell = &cells[*i];
        let granted = (200..300).contains(status);
        if granted {
            grants += 1;
        } else {
            refusals += 1;
        }
        if *status == cell.expected && body["error"] != "500" {
            continue;
        }
        let expected_grant = (200..300).contains(&cell.expected);
        match (granted, expected_grant) {
            (true, false) => unexpected_grants += 1,
            (false, true) => unexpected_refusals += 1,
            _ => {}
        }
        let target = cell.target.as_ref().map(|a| a.id.as_str()).unwrap_or("-");
        mismatches.push(format!(
            "{} {} as {} on {:?} {target}: expected {}, got {status} {}",
            cell.method,
            cell.route,
            callers[cell.caller].name,
            cell.relation,
            cell.expected,
            body["message"],
        ));
    }
    println!(
        "authorization matrix: {} cells ({} callers, {} routes, {} methods): {grants} granted, \
         {refusals} refused; {unexpected_grants} unexpected grants, {unexpected_refusals} \
         unexpected refusals, {} mismatches in all",
        cells.len(),
        callers.len(),
        ROUTES.len(),
        METHODS.len(),
        mismatches.len()
    );
    for mismatch in &mismatches {
        println!("MISMATCH {mismatch}");
    }
    assert!(
        mismatches.is_empty(),
        "{} mismatches, listed above",
        mismatches.len()
    );
}

#[test]
fn the_rule_is_the_spec_s() {
    let caller = |admin, superduper_account| Caller {
        name: "t",
        token: Some(String::new()),
        admin,
        superduper_account,
        user_id: None,
        targets: Vec::new(),
    };
    let admin = caller(true, false);
    let user = caller(false, false);
    let superduper = caller(true, true);
    let superduper_user = caller(false, true);
    for rel in [Relation::Own, Relation::Descendant] {
        assert!(allowed(&admin, Rule::Manage, Some(rel), false));
        assert!(!allowed(&user, Rule::Manage, Some(rel), false));
    }
    for rel in [Relation::Ancestor, Relation::Sibling, Relation::Unrelated] {
        assert!(!allowed(&admin, Rule::Manage, Some(rel), false));
        assert!(allowed(&superduper, Rule::Manage, Some(rel), false));
        assert!(!allowed(&superduper_user, Rule::Manage, Some(rel), false));
    }
    assert!(allowed(
        &user,
        Rule::ManageOrSelf,
        Some(Relation::Own),
        true
    ));
    assert!(!allowed(&admin, Rule::SuperDuper, None, false));
    assert!(!allowed(&superduper, Rule::Nobody, None, false));
}
