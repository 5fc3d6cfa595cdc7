#![allow(clippy::unwrap_used, clippy::expect_used)]

mod basic;
mod contracts;
mod crud;
mod fake_stub;
mod hostile;
mod routing;
mod upstream_package_id;
