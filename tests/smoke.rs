mod common;

use common::TestApp;
use serde_json::json;

#[tokio::test]
async fn an_admin_logs_in_and_reads_the_config() {
    let app = TestApp::spawn().await;
    let reseller = app.account(None, true).await;
    let admin = app.user(&reseller, true).await;
    let token = app.login(&reseller, &admin).await;
    let answer = app
        .send(
            "GET",
            &format!("/v2/accounts/{}/security", reseller.id),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body["data"]["account"], json!({}));
    let inherited = &answer.body["data"]["inherited_config"]["auth_modules"];
    assert_eq!(inherited["cb_user_auth"]["token_auth_expiry_s"], 3600);
}
