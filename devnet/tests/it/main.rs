#![allow(clippy::unwrap_used, clippy::expect_used)]

mod upstream_admin_client;
