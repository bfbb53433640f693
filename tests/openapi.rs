//! The OpenAPI description: served at `/v2/openapi.json`, and in step with the router.

mod common;

use std::collections::BTreeSet;

use common::TestApp;
use kazoo_security::handlers::ops::OPENAPI;
use kazoo_security::http::router::ROUTES;
use serde_json::Value;

const METHODS: [&str; 8] = [
    "get", "put", "post", "patch", "delete", "head", "options", "trace",
];

/// `(path template, lower-case method)` of every operation the description has.
fn described() -> BTreeSet<(String, String)> {
    let doc: Value = serde_json::from_str(OPENAPI).expect("openapi.json is JSON");
    let paths = doc["paths"].as_object().expect("the description has paths");
    paths
        .iter()
        .flat_map(|(path, item)| {
            let item = item.as_object().expect("a path item is an object");
            item.keys()
                .filter(|key| METHODS.contains(&key.as_str()))
                .map(|method| (path.clone(), method.clone()))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// `(path template, lower-case method)` of every route the router answers.
fn routed() -> BTreeSet<(String, String)> {
    ROUTES
        .iter()
        .flat_map(|spec| {
            spec.methods
                .iter()
                .map(|method| (spec.template.to_string(), method.as_str().to_lowercase()))
        })
        .collect()
}

#[test]
fn every_route_is_described_and_every_description_is_routed() {
    let described = described();
    let routed = routed();
    let undescribed: Vec<_> = routed.difference(&described).collect();
    assert!(
        undescribed.is_empty(),
        "routes without a description: {undescribed:?}"
    );
    let unrouted: Vec<_> = described.difference(&routed).collect();
    assert!(
        unrouted.is_empty(),
        "descriptions of no route: {unrouted:?}"
    );
}

#[test]
fn every_operation_has_an_id_responses_and_described_path_parameters() {
    let doc: Value = serde_json::from_str(OPENAPI).unwrap();
    assert_eq!(doc["openapi"], "3.0.3");
    for (path, method) in described() {
        let operation = &doc["paths"][&path][&method];
        assert!(operation["operationId"].is_string(), "{method} {path}");
        assert!(
            !operation["responses"].as_object().unwrap().is_empty(),
            "{method} {path}"
        );
        let names: BTreeSet<String> = operation["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| match p["$ref"].as_str() {
                Some(target) => {
                    let name = target.rsplit('/').next().unwrap();
                    doc["components"]["parameters"][name]["name"].clone()
                }
                None => p["name"].clone(),
            })
            .filter_map(|name| name.as_str().map(str::to_string))
            .collect();
        for variable in path.split('/').filter(|s| s.starts_with('{')) {
            let variable = variable.trim_matches(|c| c == '{' || c == '}');
            assert!(names.contains(variable), "{method} {path}: {variable}");
        }
    }
}

#[tokio::test]
async fn the_description_is_served_without_a_token() {
    let app = TestApp::spawn().await;
    let response = app
        .http
        .get(format!("{}/v2/openapi.json", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let served: Value = response.json().await.unwrap();
    assert_eq!(served, serde_json::from_str::<Value>(OPENAPI).unwrap());
}

// What `make fuzz-api` found: answers that broke the description.

#[tokio::test]
async fn a_null_provider_field_is_left_out_not_stored_as_null() {
    let app = TestApp::spawn().await;
    let acct = app.account(None, false).await;
    let (_, token) = app.admin(&acct).await;
    let path = format!("/v2/accounts/{}/multi_factor", acct.id);
    let body = serde_json::json!({"data": {"name": "0", "provider_name": "duo",
                                           "enabled": null, "settings": {}}});
    let created = app.send("PUT", &path, Some(&token), Some(body)).await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert!(
        created.body["data"].get("enabled").is_none(),
        "{}",
        created.body
    );

    let listed = app.send("GET", &path, Some(&token), None).await;
    assert_eq!(listed.status, 200, "{}", listed.body);
    let row = &listed.body["data"][0];
    assert_eq!(row["name"], "0");
    assert!(row.get("enabled").is_none(), "{row}");
}

#[tokio::test]
async fn an_api_key_of_64_characters_in_any_script_is_only_unknown() {
    let app = TestApp::spawn().await;
    let body = serde_json::json!({"data": {"api_key": "é".repeat(64)}});
    let answer = app.send("PUT", "/v2/api_auth", None, Some(body)).await;
    assert_eq!(answer.status, 401, "{}", answer.body);
}
