#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Integration tests of weft-comm: a real server and client over loopback, with
//! certificates made in-test.

mod harness;
mod limits;
mod mutual_tls;
mod pki;
mod tls;
mod upstream_go;
